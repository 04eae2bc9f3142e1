import NLPT.KernelDim

/-!
# The Gauss–Newton Hessian vanishes exactly on `ker T_a`

Paper claim (arXiv 2604.01334; SPEC section 3): at the linear endpoint the data Hessian is
`(1/m²)(a aᵀ) ⊗ Σ` with `Σ = XᵀX / n`; as a quadratic form it is `V ↦ (1/m²) Q_Σ(T_a V)`,
where `Q_Σ(u) = uᵀ Σ u` and `T_a V = Σ_j a_j v_j`. If `Σ` is positive definite, its kernel is
exactly `ker T_a = {V : Σ_j a_j v_j = 0}`.

Formalized here (`gaussNewton_eq_zero_iff`): for a positive definite form `Σ` over an ordered
field, `Q_Σ(T_a V) = 0 ↔ T_a V = 0`. The positive factor `1/m²` does not change the zero set
and is left out.
-/

namespace NLPT

universe u

variable {K : Type u} [OrderedField K]

/-- `Σ` is positive definite: `Q_Σ(u) > 0` for every `u` with a nonzero entry. -/
def PosDef {d : Nat} (S : Fin d → Fin d → K) : Prop :=
  ∀ u : Fin d → K, (∃ k, u k ≠ 0) → 0 < qform S u

/-- Paper statement: if `Σ` is positive definite, the Gauss–Newton Hessian form
`V ↦ Q_Σ(T_a V)` vanishes exactly on the kernel of `T_a`. -/
theorem gaussNewton_eq_zero_iff {m d : Nat} (S : Fin d → Fin d → K) (hS : PosDef S)
    (a : Fin m → K) (V : Fin m → Fin d → K) : qform S (applyT a V) = 0 ↔ InKer a V := by
  constructor
  · intro h k
    apply Classical.byContradiction
    intro hk
    have hpos := hS (applyT a V) ⟨k, hk⟩
    rw [h] at hpos
    exact OrderedField.lt_irrefl (0 : K) hpos
  · intro hV
    exact qform_eq_zero_of S (applyT a V) hV

/-- `gaussNewton_eq_zero_iff` over the rationals. -/
theorem gaussNewton_eq_zero_iff_rat {m d : Nat} (S : Fin d → Fin d → Rat) (hS : PosDef S)
    (a : Fin m → Rat) (V : Fin m → Fin d → Rat) : qform S (applyT a V) = 0 ↔ InKer a V :=
  gaussNewton_eq_zero_iff S hS a V

end NLPT
