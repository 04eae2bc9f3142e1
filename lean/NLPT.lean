import NLPT.Algebra
import NLPT.FinProd
import NLPT.KernelDim
import NLPT.GaussNewton
import NLPT.Floor
import NLPT.Threshold
import NLPT.NormalForm

/-!
# NLPT — formal layer of `nlpt`

The algebraic statements of *The Non-Linearity Perturbation Threshold: Width Scaling and
Landscape Bifurcations in Deep Learning* (arXiv 2604.01334), as formulated in the project's
SPEC (section 6), proved over an abstract field (ordered where signs matter) and instantiated
for `Rat`. Lean core only.

* `NLPT.Algebra` — field and ordered-field classes, `Rat` instances, finite sums, forms;
* `NLPT.FinProd` — the index equivalence `Fin a × Fin b ≃ Fin (a * b)` and the induced linear
  isomorphism `flatten : (Fin a → Fin b → K) → (Fin (a * b) → K)`;
* `NLPT.KernelDim` — `T_a` is onto and its kernel is linearly isomorphic to
  `Fin (m-1) → Fin d → K` and to `Fin ((m-1) * d) → K` (dimension `(m-1) d`);
* `NLPT.GaussNewton` — for positive definite `Σ`, `Q_Σ(T_a V) = 0 ↔ T_a V = 0`;
* `NLPT.Floor` — `q_{H+αI}(v) ≥ α |v|²` for positive semidefinite `H`, equality iff
  `q_H(v) = 0`, Rayleigh quotient `α` on the kernel;
* `NLPT.Threshold` — `λ* = α / (-s)` is the unique zero of `α + s λ`, `λ* ≤ 1 ↔ α ≤ -s`,
  `λ* = α m / (-c)` for `s = c / m`, strictly increasing in `m`;
* `NLPT.NormalForm` — odd cubic ⇒ no quadratic term; roots of the truncated pitchfork and
  transcritical normal forms.
-/
