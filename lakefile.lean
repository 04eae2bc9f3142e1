import Lake
open Lake DSL

/-! Formal layer of `nlpt`: Lean core only, no dependencies. Build with `lake build`; audit the
axioms of every headline theorem with `lake env lean lean/Audit.lean`. -/

package nlpt

@[default_target]
lean_lib NLPT where
  srcDir := "lean"
