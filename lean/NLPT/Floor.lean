import NLPT.Algebra

/-!
# The regularization floor `α`

Paper claim (arXiv 2604.01334; SPEC section 3, "Regularization floor"): Tikhonov regularization
turns the Hessian kernel into a floor, `H₀ = (1/m²)(a aᵀ) ⊗ Σ + α I` has
`vᵀ H₀ v ≥ α |v|²` for all `v`, with equality on the kernel of the unregularized part, so
`λ_min(H₀) = α` exactly whenever that kernel is nontrivial.

Formalized here for a positive semidefinite form `H` over an ordered field, with
`q_M(v) = Σ_i v_i Σ_j M_ij v_j`, `|v|² = Σ_i v_i v_i` and `H + α I` written `shiftId H α`:

* `qform_shiftId`: `q_{H+αI}(v) = q_H(v) + α |v|²` (any field);
* `floor_le_qform`: `α |v|² ≤ q_{H+αI}(v)`;
* `qform_shiftId_eq_iff`: equality holds exactly when `q_H(v) = 0`;
* `qform_shiftId_of_ker`: equality holds on every `v` with `H v = 0`;
* `rayleigh_shiftId_of_ker`: for such `v ≠ 0`, the Rayleigh quotient `q_{H+αI}(v) / |v|²` is
  exactly `α`: the floor is attained.
-/

namespace NLPT

universe u

/-- `H + α I`. -/
def shiftId {K : Type u} [Field K] {n : Nat} (H : Fin n → Fin n → K) (α : K) :
    Fin n → Fin n → K :=
  fun i j => H i j + α * idMat n i j

/-- `H` is positive semidefinite: `q_H(v) ≥ 0` for all `v`. -/
def PosSemidef {K : Type u} [OrderedField K] {n : Nat} (H : Fin n → Fin n → K) : Prop :=
  ∀ v : Fin n → K, 0 ≤ qform H v

/-- `q_{H+αI}(v) = q_H(v) + α |v|²`. -/
theorem qform_shiftId {K : Type u} [Field K] {n : Nat} (H : Fin n → Fin n → K) (α : K)
    (v : Fin n → K) : qform (shiftId H α) v = qform H v + α * normSq v := by
  unfold qform normSq
  rw [← sum_mul_left α (fun i => v i * v i),
    ← sum_add (fun k => v k * sum (fun l => H k l * v l)) (fun i => α * (v i * v i))]
  apply sum_congr
  intro i
  show v i * sum (fun j => shiftId H α i j * v j) =
    v i * sum (fun j => H i j * v j) + α * (v i * v i)
  have hin : sum (fun j => shiftId H α i j * v j) = sum (fun j => H i j * v j) + α * v i := by
    rw [← sum_idMat v i, ← sum_mul_left α (fun j => idMat n i j * v j),
      ← sum_add (fun j => H i j * v j) (fun j => α * (idMat n i j * v j))]
    apply sum_congr
    intro j
    show (H i j + α * idMat n i j) * v j = H i j * v j + α * (idMat n i j * v j)
    rw [Field.add_mul (H i j) (α * idMat n i j) (v j), Field.mul_assoc α (idMat n i j) (v j)]
  rw [hin, Field.mul_add (v i) (sum (fun j => H i j * v j)) (α * v i),
    Field.mul_left_comm (v i) α (v i)]

/-- Paper statement (the floor): for positive semidefinite `H`, `α |v|² ≤ q_{H+αI}(v)`. -/
theorem floor_le_qform {K : Type u} [OrderedField K] {n : Nat} (H : Fin n → Fin n → K)
    (hH : PosSemidef H) (α : K) (v : Fin n → K) : α * normSq v ≤ qform (shiftId H α) v := by
  rw [qform_shiftId]
  have h := OrderedField.add_le_add_right (hH v) (α * normSq v)
  rw [Field.zero_add] at h
  exact h

/-- Equality in the floor bound holds exactly when `q_H(v) = 0`. -/
theorem qform_shiftId_eq_iff {K : Type u} [Field K] {n : Nat} (H : Fin n → Fin n → K) (α : K)
    (v : Fin n → K) : qform (shiftId H α) v = α * normSq v ↔ qform H v = 0 := by
  rw [qform_shiftId]
  constructor
  · intro h
    have h2 : qform H v + α * normSq v = 0 + α * normSq v := by
      rw [Field.zero_add]
      exact h
    exact Field.add_right_cancel h2
  · intro h
    rw [h, Field.zero_add]

/-- On the kernel of `H` (`Σ_j H_ij v_j = 0` for all `i`) the floor is an equality. -/
theorem qform_shiftId_of_ker {K : Type u} [Field K] {n : Nat} (H : Fin n → Fin n → K) (α : K)
    (v : Fin n → K) (hv : ∀ i, sum (fun j => H i j * v j) = 0) :
    qform (shiftId H α) v = α * normSq v := by
  apply (qform_shiftId_eq_iff H α v).mpr
  unfold qform
  exact sum_eq_zero _ (fun i => by
    show v i * sum (fun j => H i j * v j) = 0
    rw [hv i, Field.mul_zero])

/-- Paper statement (`λ_min(H₀) = α` is attained): for a nonzero `v` in the kernel of `H`, the
Rayleigh quotient of `H + αI` at `v` is exactly `α`. -/
theorem rayleigh_shiftId_of_ker {K : Type u} [OrderedField K] {n : Nat}
    (H : Fin n → Fin n → K) (α : K) (v : Fin n → K)
    (hv : ∀ i, sum (fun j => H i j * v j) = 0) (i : Fin n) (hi : v i ≠ 0) :
    qform (shiftId H α) v / normSq v = α := by
  rw [qform_shiftId_of_ker H α v hv, Field.div_eq_mul_inv, Field.mul_assoc,
    Field.mul_inv_cancel (normSq v) (OrderedField.ne_of_gt (normSq_pos v i hi)), Field.mul_one]

/-- `floor_le_qform` over the rationals. -/
theorem floor_le_qform_rat {n : Nat} (H : Fin n → Fin n → Rat) (hH : PosSemidef H) (α : Rat)
    (v : Fin n → Rat) : α * normSq v ≤ qform (shiftId H α) v :=
  floor_le_qform H hH α v

/-- `rayleigh_shiftId_of_ker` over the rationals. -/
theorem rayleigh_shiftId_of_ker_rat {n : Nat} (H : Fin n → Fin n → Rat) (α : Rat)
    (v : Fin n → Rat) (hv : ∀ i, sum (fun j => H i j * v j) = 0) (i : Fin n) (hi : v i ≠ 0) :
    qform (shiftId H α) v / normSq v = α :=
  rayleigh_shiftId_of_ker H α v hv i hi

end NLPT
