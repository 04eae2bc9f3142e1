import NLPT.Algebra

/-!
# The predicted threshold `λ* = α / |s|` and its width scaling

Paper claim (arXiv 2604.01334; SPEC section 4): to first order the lowest Hessian eigenvalue
along the homotopy is `μ(λ) = α + s λ`, starting at the floor `α > 0` and softening at the rate
`s = λ₁'(0) < 0`; it crosses zero at `λ* = α / |s|`, which lies in `[0, 1]` iff `α ≤ |s|`; and
with `s = c / m` (the width law of the softening rate) the threshold is `λ* = α m / |c|`,
growing linearly with the width `m`.

Formalized here over an ordered field:

* `softening_eq_zero_iff`: `μ(λ) = 0 ↔ λ = α / (-s)` (a unique zero);
* `threshold_pos`: `λ* > 0`;
* `threshold_le_one_iff`: `λ* ≤ 1 ↔ α ≤ -s`;
* `threshold_width_eq`: with `s = c / m`, `c < 0 < m`: `α / (-(c / m)) = α m / (-c)`;
* `threshold_width_strictMono`: `m < m' → α m / (-c) < α m' / (-c)`.
-/

namespace NLPT

universe u

/-- The affine softening model `μ(λ) = α + s λ`. -/
def softening {K : Type u} [Field K] (α s lam : K) : K := α + s * lam

section

variable {K : Type u} [OrderedField K]

/-- Paper statement: for `s < 0` the affine softening `μ(λ) = α + s λ` has exactly one zero,
`λ* = α / (-s)`. -/
theorem softening_eq_zero_iff {α s : K} (hs : s < 0) (lam : K) :
    softening α s lam = 0 ↔ lam = α / (-s) := by
  have ht : (0 : K) < -s := OrderedField.neg_pos_of_neg hs
  have hne : -s ≠ 0 := OrderedField.ne_of_gt ht
  unfold softening
  constructor
  · intro h
    apply Field.eq_div_of_mul_eq hne
    rw [Field.neg_mul]
    exact (Field.eq_neg_of_add_eq_zero h).symm
  · intro h
    rw [h]
    have key : -s * (α / (-s)) = α := Field.mul_div_cancel hne α
    rw [Field.neg_mul] at key
    calc α + s * (α / (-s)) = -(s * (α / (-s))) + s * (α / (-s)) := by rw [key]
      _ = 0 := Field.neg_add_cancel _

/-- The threshold is positive when `α > 0` and `s < 0`. -/
theorem threshold_pos {α s : K} (hα : 0 < α) (hs : s < 0) : 0 < α / (-s) :=
  OrderedField.div_pos hα (OrderedField.neg_pos_of_neg hs)

/-- Paper statement: the crossing happens inside the homotopy, `λ* ≤ 1`, iff `α ≤ -s = |s|`. -/
theorem threshold_le_one_iff {α s : K} (hs : s < 0) : α / (-s) ≤ 1 ↔ α ≤ -s := by
  have ht : (0 : K) < -s := OrderedField.neg_pos_of_neg hs
  have key : -s * (α / (-s)) ≤ -s * 1 ↔ α / (-s) ≤ 1 := OrderedField.mul_le_mul_left_iff ht
  rw [Field.mul_div_cancel (OrderedField.ne_of_gt ht) α, Field.mul_one (-s)] at key
  exact key.symm

/-- Paper statement (width law): with softening rate `s = c / m`, `c < 0 < m`, the threshold is
`λ* = α m / (-c)`. -/
theorem threshold_width_eq {α c m : K} (hc : c < 0) (hm : 0 < m) :
    α / (-(c / m)) = α * m / (-c) := by
  rw [Field.neg_div c m]
  exact Field.div_div_eq_mul_div (OrderedField.ne_of_gt (OrderedField.neg_pos_of_neg hc))
    (OrderedField.ne_of_gt hm) α

/-- Paper statement (width scaling): for `α > 0`, `c < 0`, the threshold `α m / (-c)` is
strictly increasing in the width `m`. -/
theorem threshold_width_strictMono {α c m m' : K} (hα : 0 < α) (hc : c < 0) (hmm : m < m') :
    α * m / (-c) < α * m' / (-c) := by
  rw [Field.mul_div_right_comm α m (-c), Field.mul_div_right_comm α m' (-c)]
  exact OrderedField.mul_lt_mul_of_pos_left hmm (threshold_pos hα hc)

end

/-- `softening_eq_zero_iff` over the rationals. -/
theorem softening_eq_zero_iff_rat {α s : Rat} (hs : s < 0) (lam : Rat) :
    softening α s lam = 0 ↔ lam = α / (-s) :=
  softening_eq_zero_iff hs lam

/-- `threshold_le_one_iff` over the rationals. -/
theorem threshold_le_one_iff_rat {α s : Rat} (hs : s < 0) : α / (-s) ≤ 1 ↔ α ≤ -s :=
  threshold_le_one_iff hs

/-- `threshold_width_eq` over the rationals. -/
theorem threshold_width_eq_rat {α c m : Rat} (hc : c < 0) (hm : 0 < m) :
    α / (-(c / m)) = α * m / (-c) :=
  threshold_width_eq hc hm

/-- `threshold_width_strictMono` over the rationals. -/
theorem threshold_width_strictMono_rat {α c m m' : Rat} (hα : 0 < α) (hc : c < 0)
    (hmm : m < m') : α * m / (-c) < α * m' / (-c) :=
  threshold_width_strictMono hα hc hmm

end NLPT
