import NLPT.Algebra

/-!
# Algebra of the truncated normal forms

Paper claim (arXiv 2604.01334; SPEC section 5): after the Lyapunov–Schmidt reduction the
bifurcation at `λ*` is governed by a scalar `g(ξ, μ) = g_xμ μ ξ + g_xx ξ²/2 + g_xxx ξ³/6 + …`.
An odd activation makes the reduced function odd in `ξ`, which kills the quadratic coefficient
and gives a pitchfork; otherwise the bifurcation is transcritical. The bifurcated branches are
the nonzero roots of the truncations.

Formalized here (the reduction itself is analysis and is not formalized):

* `quadratic_coeff_eq_zero_of_odd`: if `g(ξ) = g₁ ξ + g₂ ξ² + g₃ ξ³` satisfies
  `g(-ξ) = -g(ξ)` for all `ξ`, then `g₂ = 0` (in any field where `2 ≠ 0`);
* `pitchfork_root_sq`: a root `ξ ≠ 0` of `g_xμ μ ξ + g_xxx ξ³ / 6` satisfies
  `ξ² = -6 g_xμ μ / g_xxx` (for `g_xxx ≠ 0`, `6 ≠ 0`);
* `transcritical_root`: a root `ξ ≠ 0` of `g_xμ μ ξ + g_xx ξ² / 2` is
  `ξ = -2 g_xμ μ / g_xx` (for `g_xx ≠ 0`, `2 ≠ 0`).

Here `2` and `6` are the field elements `two = 1 + 1` and `six = two + two + two`; over an
ordered field (e.g. `Rat`) both are positive, which discharges the side conditions.
-/

namespace NLPT

universe u

/-- The cubic `g(ξ) = g₁ ξ + g₂ ξ² + g₃ ξ³`. -/
def cubic {K : Type u} [Field K] (g1 g2 g3 ξ : K) : K :=
  g1 * ξ + g2 * (ξ * ξ) + g3 * (ξ * ξ * ξ)

section

variable {K : Type u} [Field K]

/-- Paper statement (odd activation ⇒ pitchfork): a cubic that is odd in `ξ` has zero quadratic
coefficient. -/
theorem quadratic_coeff_eq_zero_of_odd (g1 g2 g3 : K) (h2 : (two : K) ≠ 0)
    (hodd : ∀ ξ : K, cubic g1 g2 g3 (-ξ) = -(cubic g1 g2 g3 ξ)) : g2 = 0 := by
  have hsum : cubic g1 g2 g3 (-1) + cubic g1 g2 g3 1 = 0 := by
    rw [hodd 1, Field.neg_add_cancel (cubic g1 g2 g3 1)]
  have hm : cubic g1 g2 g3 (-1) = -g1 + g2 + -g3 := by
    show g1 * -1 + g2 * (-1 * -1) + g3 * (-1 * -1 * -1) = -g1 + g2 + -g3
    rw [Field.neg_mul_neg (1 : K) 1, Field.mul_one (1 : K), Field.mul_one g2,
      Field.one_mul (-1 : K), Field.mul_neg_one g1, Field.mul_neg_one g3]
  have hp : cubic g1 g2 g3 1 = g1 + g2 + g3 := by
    show g1 * 1 + g2 * (1 * 1) + g3 * (1 * 1 * 1) = g1 + g2 + g3
    rw [Field.mul_one (1 : K), Field.mul_one (1 : K), Field.mul_one g1, Field.mul_one g2,
      Field.mul_one g3]
  rw [hm, hp, Field.add_add_add_comm (-g1 + g2) (-g3) (g1 + g2) g3,
    Field.add_add_add_comm (-g1) g2 g1 g2, Field.neg_add_cancel g1, Field.neg_add_cancel g3,
    Field.zero_add (g2 + g2), Field.add_zero (g2 + g2)] at hsum
  -- hsum : g2 + g2 = 0
  have h22 : two * g2 = 0 := by
    show (1 + 1) * g2 = 0
    rw [Field.add_mul 1 1 g2, Field.one_mul g2]
    exact hsum
  exact Field.eq_zero_of_mul_left h2 h22

/-- Paper statement (truncated pitchfork): a nonzero root `ξ` of `g_xμ μ ξ + g_xxx ξ³ / 6`
satisfies `ξ² = -6 g_xμ μ / g_xxx`. -/
theorem pitchfork_root_sq {gxmu gxxx mu ξ : K} (h6 : (six : K) ≠ 0) (h3 : gxxx ≠ 0)
    (hξ : ξ ≠ 0) (h : gxmu * mu * ξ + gxxx * (ξ * ξ * ξ) / six = 0) :
    ξ * ξ = -(six * gxmu * mu) / gxxx := by
  have hf : gxmu * mu * ξ + gxxx * (ξ * ξ * ξ) / six =
      ξ * (gxmu * mu + gxxx * (ξ * ξ) / six) := by
    rw [Field.mul_add ξ (gxmu * mu) (gxxx * (ξ * ξ) / six),
      Field.div_eq_mul_inv (gxxx * (ξ * ξ * ξ)) six,
      Field.div_eq_mul_inv (gxxx * (ξ * ξ)) six, ← Field.mul_assoc gxxx (ξ * ξ) ξ,
      Field.mul_comm (gxxx * (ξ * ξ)) ξ, Field.mul_assoc ξ (gxxx * (ξ * ξ)) six⁻¹,
      Field.mul_comm (gxmu * mu) ξ]
  rw [hf] at h
  have h1 : gxmu * mu + gxxx * (ξ * ξ) / six = 0 := Field.eq_zero_of_mul_left hξ h
  have h2 : gxxx * (ξ * ξ) / six = -(gxmu * mu) :=
    Field.eq_neg_of_add_eq_zero ((Field.add_comm (gxxx * (ξ * ξ) / six) (gxmu * mu)).trans h1)
  have h3' : gxxx * (ξ * ξ) = -(gxmu * mu) * six := Field.eq_mul_of_div_eq h6 h2
  rw [Field.neg_mul (gxmu * mu) six, Field.mul_comm (gxmu * mu) six,
    ← Field.mul_assoc six gxmu mu] at h3'
  exact Field.eq_div_of_mul_eq h3 h3'

/-- Paper statement (truncated transcritical): the nonzero root of `g_xμ μ ξ + g_xx ξ² / 2` is
`ξ = -2 g_xμ μ / g_xx`. -/
theorem transcritical_root {gxmu gxx mu ξ : K} (h2 : (two : K) ≠ 0) (hxx : gxx ≠ 0)
    (hξ : ξ ≠ 0) (h : gxmu * mu * ξ + gxx * (ξ * ξ) / two = 0) :
    ξ = -(two * gxmu * mu) / gxx := by
  have hf : gxmu * mu * ξ + gxx * (ξ * ξ) / two = ξ * (gxmu * mu + gxx * ξ / two) := by
    rw [Field.mul_add ξ (gxmu * mu) (gxx * ξ / two), Field.div_eq_mul_inv (gxx * (ξ * ξ)) two,
      Field.div_eq_mul_inv (gxx * ξ) two, ← Field.mul_assoc gxx ξ ξ,
      Field.mul_comm (gxx * ξ) ξ, Field.mul_assoc ξ (gxx * ξ) two⁻¹,
      Field.mul_comm (gxmu * mu) ξ]
  rw [hf] at h
  have h1 : gxmu * mu + gxx * ξ / two = 0 := Field.eq_zero_of_mul_left hξ h
  have h2' : gxx * ξ / two = -(gxmu * mu) :=
    Field.eq_neg_of_add_eq_zero ((Field.add_comm (gxx * ξ / two) (gxmu * mu)).trans h1)
  have h3 : gxx * ξ = -(gxmu * mu) * two := Field.eq_mul_of_div_eq h2 h2'
  rw [Field.neg_mul (gxmu * mu) two, Field.mul_comm (gxmu * mu) two,
    ← Field.mul_assoc two gxmu mu] at h3
  exact Field.eq_div_of_mul_eq hxx h3

end

/-- `quadratic_coeff_eq_zero_of_odd` over the rationals (`2 ≠ 0` holds there). -/
theorem quadratic_coeff_eq_zero_of_odd_rat (g1 g2 g3 : Rat)
    (hodd : ∀ ξ : Rat, cubic g1 g2 g3 (-ξ) = -(cubic g1 g2 g3 ξ)) : g2 = 0 :=
  quadratic_coeff_eq_zero_of_odd g1 g2 g3 (OrderedField.ne_of_gt OrderedField.two_pos) hodd

/-- `pitchfork_root_sq` over the rationals (`6 ≠ 0` holds there). -/
theorem pitchfork_root_sq_rat {gxmu gxxx mu ξ : Rat} (h3 : gxxx ≠ 0) (hξ : ξ ≠ 0)
    (h : gxmu * mu * ξ + gxxx * (ξ * ξ * ξ) / six = 0) :
    ξ * ξ = -(six * gxmu * mu) / gxxx :=
  pitchfork_root_sq (OrderedField.ne_of_gt OrderedField.six_pos) h3 hξ h

/-- `transcritical_root` over the rationals (`2 ≠ 0` holds there). -/
theorem transcritical_root_rat {gxmu gxx mu ξ : Rat} (hxx : gxx ≠ 0) (hξ : ξ ≠ 0)
    (h : gxmu * mu * ξ + gxx * (ξ * ξ) / two = 0) :
    ξ = -(two * gxmu * mu) / gxx :=
  transcritical_root (OrderedField.ne_of_gt OrderedField.two_pos) hxx hξ h

end NLPT
