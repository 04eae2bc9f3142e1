import NLPT.Algebra
import NLPT.KernelDim

/-!
# The symmetry reduction for uniform second-layer weights

Project claim (SPEC section 7, beyond the abstract of arXiv 2604.01334): for uniform `a` the
critical branch stays on `W = 1 uᵀ`; there the Hessian is
`H = I_m ⊗ (A/m + α I) + (1/m²) 1 1ᵀ ⊗ G`, i.e. an operator of the form
`(H V)_j = A' V_j + B' Σ_k V_k` on `V : Fin m → Fin d → K`, whose spectrum splits exactly into
d × d blocks; and the loss on `W = 1 uᵀ` is that of one neuron with regularization `α m`.

Formalized here over a field `K` (the width `m` enters as `castNat m = 1 + ⋯ + 1`, `m` terms):

* `symOp_tensor_of_sum_zero`: `H (q ⊗ u) = q ⊗ (A u)` when `Σ_j q_j = 0` — on
  `K = {q ⊗ e : Σ q = 0}` the operator acts as `A` alone;
* `symOp_ones_tensor`: `H (1 ⊗ u) = 1 ⊗ ((A + m B) u)` — on the fixed space it acts as `A + m B`;
* `centered_add_mean`, `centered_inKer`, `eq_zero_of_ones_tensor_inKer`: every `V` is
  `(V - 1 ⊗ mean V) + 1 ⊗ mean V` with the first part in `ker T_1` (`T_a`, `InKer` of
  `NLPT.KernelDim`, with `a = 1`), and `1 ⊗ u` lies in `ker T_1` only for `u = 0`: the two spaces
  are complementary. This needs `castNat m ≠ 0` (true in every ordered field for `m ≥ 1`);
* `loss_ones_tensor`, `loss_width_eq`: for any activation `s : K → K`, second-layer weight `c`
  and data `(X, y)`, with the mean-field network `f(x; W) = (1/m) Σ_j c s(w_j · x)` and
  `L_{m,α}(W) = 1/(2n) Σ_i (f(x_i; W) - y_i)² + (α/2) ‖W‖_F²`:
  `L_{m,α}(1 uᵀ) = 1/(2n) Σ_i (c s(u · x_i) - y_i)² + (α m / 2) |u|² = L_{1,α m}(u)`;
* `loss_ones_tensor_eq_of_mul_eq`: two pairs `(m, α)`, `(m', α')` with `α m = α' m'` give the
  same loss on the fixed space, for every activation — so the whole reduced family
  `λ ↦ L_λ(1 uᵀ)`, and what is computed from it (the branch from `W*` and `λ*`), depends on `m`
  and `α` only through `α m`.

Every statement is restated for `Rat` (the `_rat` theorems, with `0 < m` in place of
`castNat m ≠ 0`). The analysis around these identities (the branch stays on the fixed space by
the implicit function theorem; eigenvalues and multiplicities) is not formalized.
-/

namespace NLPT

universe u

section

variable {K : Type u} [Field K]

/-- The width `m` as an element of the field: `castNat m = 1 + ⋯ + 1` (`m` terms). -/
def castNat (m : Nat) : K := sum (fun _ : Fin m => (1 : K))

/-- The matrix-vector product `(M u)_k = Σ_l M_kl u_l`. -/
def matVec {d : Nat} (M : Fin d → Fin d → K) (u : Fin d → K) (k : Fin d) : K :=
  sum (fun l => M k l * u l)

/-- The tensor `(q ⊗ u)_jk = q_j u_k` of `q : Fin m → K` and `u : Fin d → K`. -/
def tensor {m d : Nat} (q : Fin m → K) (u : Fin d → K) (j : Fin m) (k : Fin d) : K := q j * u k

/-- The all-ones vector `1 : Fin m → K`. -/
def ones (m : Nat) : Fin m → K := fun _ => 1

/-- The operator `(H V)_j = A V_j + B Σ_k V_k` on `V : Fin m → Fin d → K`. -/
def symOp {m d : Nat} (A B : Fin d → Fin d → K) (V : Fin m → Fin d → K) (j : Fin m)
    (k : Fin d) : K :=
  matVec A (V j) k + matVec B (fun l => sum (fun i => V i l)) k

/-- The matrix `A + m B`, entrywise. -/
def widthMat {d : Nat} (A B : Fin d → Fin d → K) (m : Nat) : Fin d → Fin d → K :=
  fun k l => A k l + castNat m * B k l

/-- The mean row `mean V = (1/m) Σ_j V_j`. -/
def mean {m d : Nat} (V : Fin m → Fin d → K) (k : Fin d) : K :=
  sum (fun j => V j k) / castNat m

/-- The centred rows `V - 1 ⊗ mean V`. -/
def centered {m d : Nat} (V : Fin m → Fin d → K) (j : Fin m) (k : Fin d) : K := V j k - mean V k

/-- The inner product `u · x = Σ_k u_k x_k`. -/
def dot {d : Nat} (u x : Fin d → K) : K := sum (fun k => u k * x k)

/-- The mean-field network `f(x; W) = (1/m) Σ_j c s(w_j · x)` with activation `s` and
second-layer weight `c`. -/
def net {m d : Nat} (c : K) (s : K → K) (W : Fin m → Fin d → K) (x : Fin d → K) : K :=
  sum (fun j => c * s (dot (W j) x)) / castNat m

/-- `‖W‖_F² = Σ_j |w_j|²`. -/
def frobSq {m d : Nat} (W : Fin m → Fin d → K) : K := sum (fun j => normSq (W j))

/-- The loss `L_{m,α}(W) = 1/(2n) Σ_i (f(x_i; W) - y_i)² + (α/2) ‖W‖_F²` on data
`X : Fin n → Fin d → K`, `y : Fin n → K`. -/
def loss {n m d : Nat} (X : Fin n → Fin d → K) (y : Fin n → K) (c : K) (s : K → K) (α : K)
    (W : Fin m → Fin d → K) : K :=
  sum (fun i => (net c s W (X i) - y i) * (net c s W (X i) - y i)) / (two * castNat n) +
    α / two * frobSq W

private theorem sum_mul_const {m : Nat} (f : Fin m → K) (c : K) :
    sum (fun i => f i * c) = sum f * c := by
  rw [Field.mul_comm (sum f) c, ← sum_mul_left c f]
  exact sum_congr (fun i => Field.mul_comm (f i) c)

private theorem sum_fun_const {m : Nat} (c : K) : sum (fun _ : Fin m => c) = castNat m * c := by
  show sum (fun _ : Fin m => c) = sum (fun _ : Fin m => (1 : K)) * c
  rw [Field.mul_comm (sum (fun _ : Fin m => (1 : K))) c,
    ← sum_mul_left c (fun _ : Fin m => (1 : K))]
  exact sum_congr (fun _ => (Field.mul_one c).symm)

private theorem castNat_one : (castNat 1 : K) = 1 := by
  show (1 : K) + 0 = 1
  exact Field.add_zero 1

private theorem castNat_one_ne_zero : (castNat 1 : K) ≠ 0 := by
  rw [castNat_one]
  exact fun h => Field.zero_ne_one h.symm

private theorem mul_div_cancel_of_ne {c : K} (hc : c ≠ 0) (a : K) : c * a / c = a := by
  rw [Field.mul_div_right_comm c a c, Field.div_eq_mul_inv c c, Field.mul_inv_cancel c hc,
    Field.one_mul]

private theorem matVec_smul {d : Nat} (A : Fin d → Fin d → K) (t : K) (u : Fin d → K)
    (k : Fin d) : matVec A (fun l => t * u l) k = t * matVec A u k := by
  show sum (fun l => A k l * (t * u l)) = t * sum (fun l => A k l * u l)
  rw [← sum_mul_left t (fun l => A k l * u l)]
  exact sum_congr (fun l => Field.mul_left_comm (A k l) t (u l))

private theorem tensor_ones_eq {m d : Nat} (u : Fin d → K) :
    tensor (ones m) u = fun _ => u := by
  funext j k
  show (1 : K) * u k = u k
  exact Field.one_mul (u k)

/-- Paper statement (SPEC 7, the kernel block): on `q ⊗ u` with `Σ_j q_j = 0` the operator
`(H V)_j = A V_j + B Σ_k V_k` acts as `A` alone, `H (q ⊗ u) = q ⊗ (A u)`. -/
theorem symOp_tensor_of_sum_zero {m d : Nat} (A B : Fin d → Fin d → K) (q : Fin m → K)
    (u : Fin d → K) (hq : sum q = 0) : symOp A B (tensor q u) = tensor q (matVec A u) := by
  funext j k
  have hB : matVec B (fun l => sum (fun i => tensor q u i l)) k = 0 := by
    show sum (fun l => B k l * sum (fun i => q i * u l)) = 0
    exact sum_eq_zero _ (fun l => by
      show B k l * sum (fun i => q i * u l) = 0
      rw [sum_mul_const q (u l), hq, Field.zero_mul, Field.mul_zero])
  show matVec A (fun l => q j * u l) k + matVec B (fun l => sum (fun i => tensor q u i l)) k =
    q j * matVec A u k
  rw [hB, Field.add_zero, matVec_smul A (q j) u k]

/-- Paper statement (SPEC 7, the symmetric block): on the fixed space the operator acts as
`A + m B`, `H (1 ⊗ u) = 1 ⊗ ((A + m B) u)`. -/
theorem symOp_ones_tensor {m d : Nat} (A B : Fin d → Fin d → K) (u : Fin d → K) :
    symOp A B (tensor (ones m) u) = tensor (ones m) (matVec (widthMat A B m) u) := by
  funext j k
  have hsum : ∀ l, sum (fun i => tensor (ones m) u i l) = castNat m * u l := fun l => by
    show sum (fun _ : Fin m => (1 : K) * u l) = castNat m * u l
    rw [Field.one_mul (u l)]
    exact sum_fun_const (u l)
  have hA : matVec A (fun l => (1 : K) * u l) k = matVec A u k := by
    rw [matVec_smul A 1 u k, Field.one_mul]
  have hB : matVec B (fun l => sum (fun i => tensor (ones m) u i l)) k =
      castNat m * matVec B u k := by
    rw [← matVec_smul B (castNat m) u k]
    show sum (fun l => B k l * sum (fun i => tensor (ones m) u i l)) =
      sum (fun l => B k l * (castNat m * u l))
    exact sum_congr (fun l => by
      show B k l * sum (fun i => tensor (ones m) u i l) = B k l * (castNat m * u l)
      rw [hsum l])
  have hW : matVec (widthMat A B m) u k = matVec A u k + castNat m * matVec B u k := by
    show sum (fun l => (A k l + castNat m * B k l) * u l) =
      sum (fun l => A k l * u l) + castNat m * sum (fun l => B k l * u l)
    rw [← sum_mul_left (castNat m) (fun l => B k l * u l),
      ← sum_add (fun l => A k l * u l) (fun l => castNat m * (B k l * u l))]
    exact sum_congr (fun l => by
      show (A k l + castNat m * B k l) * u l = A k l * u l + castNat m * (B k l * u l)
      rw [Field.add_mul (A k l) (castNat m * B k l) (u l),
        Field.mul_assoc (castNat m) (B k l) (u l)])
  show matVec A (fun l => (1 : K) * u l) k +
      matVec B (fun l => sum (fun i => tensor (ones m) u i l)) k =
    (1 : K) * matVec (widthMat A B m) u k
  rw [hA, hB, hW, Field.one_mul]

/-- Paper statement (SPEC 7, the split): every `V` is `(V - 1 ⊗ mean V) + 1 ⊗ mean V`. -/
theorem centered_add_mean {m d : Nat} (V : Fin m → Fin d → K) :
    V = fun j k => centered V j k + tensor (ones m) (mean V) j k := by
  funext j k
  show V j k = V j k - mean V k + (1 : K) * mean V k
  rw [Field.one_mul (mean V k), Field.sub_eq_add_neg, Field.add_assoc, Field.neg_add_cancel,
    Field.add_zero]

/-- Paper statement (SPEC 7, the split): the centred part `V - 1 ⊗ mean V` lies in `ker T_1`,
i.e. its rows sum to zero (for `m ≠ 0` in `K`). -/
theorem centered_inKer {m d : Nat} (V : Fin m → Fin d → K) (hm : (castNat m : K) ≠ 0) :
    InKer (ones m) (centered V) := by
  intro k
  show sum (fun j => (1 : K) * (V j k - mean V k)) = 0
  have h1 : sum (fun j => (1 : K) * (V j k - mean V k)) = sum (fun j => V j k + -mean V k) :=
    sum_congr (fun j => by
      show (1 : K) * (V j k - mean V k) = V j k + -mean V k
      rw [Field.one_mul, Field.sub_eq_add_neg])
  rw [h1, sum_add (fun j => V j k) (fun _ => -mean V k), sum_fun_const (-mean V k),
    Field.mul_neg (castNat m) (mean V k)]
  show sum (fun j => V j k) + -(castNat m * (sum (fun j => V j k) / castNat m)) = 0
  rw [Field.mul_div_cancel hm, Field.add_neg_cancel]

/-- Paper statement (SPEC 7, the split is direct): `1 ⊗ u` lies in `ker T_1` only for `u = 0`
(for `m ≠ 0` in `K`). -/
theorem eq_zero_of_ones_tensor_inKer {m d : Nat} (u : Fin d → K) (hm : (castNat m : K) ≠ 0)
    (h : InKer (ones m) (tensor (ones m) u)) : u = fun _ => 0 := by
  funext k
  have hk := h k
  have e : applyT (ones m) (tensor (ones m) u) k = castNat m * u k := by
    show sum (fun _ : Fin m => (1 : K) * ((1 : K) * u k)) = castNat m * u k
    rw [Field.one_mul ((1 : K) * u k), Field.one_mul (u k)]
    exact sum_fun_const (u k)
  rw [e] at hk
  exact Field.eq_zero_of_mul_left hm hk

/-- Paper statement (SPEC 7, the reduced loss): for any activation `s`, on `W = 1 uᵀ` the
mean-field loss is that of one neuron with regularization `α m`:
`L_{m,α}(1 uᵀ) = 1/(2n) Σ_i (c s(u · x_i) - y_i)² + (α m / 2) |u|²`. -/
theorem loss_ones_tensor {n m d : Nat} (X : Fin n → Fin d → K) (y : Fin n → K) (c : K)
    (s : K → K) (α : K) (u : Fin d → K) (hm : (castNat m : K) ≠ 0) :
    loss X y c s α (tensor (ones m) u) =
      sum (fun i => (c * s (dot u (X i)) - y i) * (c * s (dot u (X i)) - y i)) /
          (two * castNat n) +
        α * castNat m / two * normSq u := by
  rw [tensor_ones_eq u]
  have hnet : ∀ x : Fin d → K, net c s (fun _ : Fin m => u) x = c * s (dot u x) := fun x => by
    show sum (fun _ : Fin m => c * s (dot u x)) / castNat m = c * s (dot u x)
    rw [sum_fun_const (c * s (dot u x)), mul_div_cancel_of_ne hm]
  have hF : frobSq (fun _ : Fin m => u) = castNat m * normSq u := sum_fun_const (normSq u)
  have hs : sum (fun i => (net c s (fun _ : Fin m => u) (X i) - y i) *
        (net c s (fun _ : Fin m => u) (X i) - y i)) =
      sum (fun i => (c * s (dot u (X i)) - y i) * (c * s (dot u (X i)) - y i)) :=
    sum_congr (fun i => by
      show (net c s (fun _ : Fin m => u) (X i) - y i) *
          (net c s (fun _ : Fin m => u) (X i) - y i) =
        (c * s (dot u (X i)) - y i) * (c * s (dot u (X i)) - y i)
      rw [hnet (X i)])
  show sum (fun i => (net c s (fun _ : Fin m => u) (X i) - y i) *
        (net c s (fun _ : Fin m => u) (X i) - y i)) / (two * castNat n) +
      α / two * frobSq (fun _ : Fin m => u) = _
  rw [hs, hF, Field.mul_div_right_comm α (castNat m) two,
    Field.mul_assoc (α / two) (castNat m) (normSq u)]

/-- Paper statement (SPEC 7, the width identity): `L_{m,α}(1 uᵀ) = L_{1,α m}(u)` for any
activation, as an identity of the finite sums (for `m ≠ 0` in `K`). -/
theorem loss_width_eq {n m d : Nat} (X : Fin n → Fin d → K) (y : Fin n → K) (c : K)
    (s : K → K) (α : K) (u : Fin d → K) (hm : (castNat m : K) ≠ 0) :
    loss X y c s α (tensor (ones m) u) = loss X y c s (α * castNat m) (tensor (ones 1) u) := by
  rw [loss_ones_tensor X y c s α u hm,
    loss_ones_tensor X y c s (α * castNat m) u castNat_one_ne_zero, castNat_one,
    Field.mul_one (α * castNat m)]

/-- Paper statement (SPEC 7, `λ*` depends on `α m` only): if `α m = α' m'`, the losses of widths
`m` and `m'` agree on the fixed space, for every activation; so the reduced family, and the
branch and threshold computed from it, are functions of `α m`. -/
theorem loss_ones_tensor_eq_of_mul_eq {n m m' d : Nat} (X : Fin n → Fin d → K) (y : Fin n → K)
    (c : K) (s : K → K) {α α' : K} (u : Fin d → K) (hm : (castNat m : K) ≠ 0)
    (hm' : (castNat m' : K) ≠ 0) (h : α * castNat m = α' * castNat m') :
    loss X y c s α (tensor (ones m) u) = loss X y c s α' (tensor (ones m') u) := by
  rw [loss_ones_tensor X y c s α u hm, loss_ones_tensor X y c s α' u hm', h]

end

/-- `m ≥ 1` makes `castNat m` positive in an ordered field. -/
private theorem castNat_pos {K : Type u} [OrderedField K] {m : Nat} (hm : 0 < m) :
    (0 : K) < castNat m := by
  cases m with
  | zero => exact absurd hm (by omega)
  | succ n =>
    show (0 : K) < 1 + sum (fun _ : Fin n => (1 : K))
    exact OrderedField.add_pos_of_pos_of_nonneg OrderedField.zero_lt_one
      (sum_nonneg _ (fun _ => OrderedField.le_of_lt OrderedField.zero_lt_one))

private theorem castNat_ne_zero_rat {m : Nat} (hm : 0 < m) : (castNat m : Rat) ≠ 0 :=
  OrderedField.ne_of_gt (castNat_pos hm)

/-- `symOp_tensor_of_sum_zero` over the rationals. -/
theorem symOp_tensor_of_sum_zero_rat {m d : Nat} (A B : Fin d → Fin d → Rat) (q : Fin m → Rat)
    (u : Fin d → Rat) (hq : sum q = 0) : symOp A B (tensor q u) = tensor q (matVec A u) :=
  symOp_tensor_of_sum_zero A B q u hq

/-- `symOp_ones_tensor` over the rationals. -/
theorem symOp_ones_tensor_rat {m d : Nat} (A B : Fin d → Fin d → Rat) (u : Fin d → Rat) :
    symOp A B (tensor (ones m) u) = tensor (ones m) (matVec (widthMat A B m) u) :=
  symOp_ones_tensor A B u

/-- `centered_add_mean` over the rationals. -/
theorem centered_add_mean_rat {m d : Nat} (V : Fin m → Fin d → Rat) :
    V = fun j k => centered V j k + tensor (ones m) (mean V) j k :=
  centered_add_mean V

/-- `centered_inKer` over the rationals, for `m ≥ 1`. -/
theorem centered_inKer_rat {m d : Nat} (V : Fin m → Fin d → Rat) (hm : 0 < m) :
    InKer (ones m) (centered V) :=
  centered_inKer V (castNat_ne_zero_rat hm)

/-- `eq_zero_of_ones_tensor_inKer` over the rationals, for `m ≥ 1`. -/
theorem eq_zero_of_ones_tensor_inKer_rat {m d : Nat} (u : Fin d → Rat) (hm : 0 < m)
    (h : InKer (ones m) (tensor (ones m) u)) : u = fun _ => 0 :=
  eq_zero_of_ones_tensor_inKer u (castNat_ne_zero_rat hm) h

/-- `loss_ones_tensor` over the rationals, for `m ≥ 1`. -/
theorem loss_ones_tensor_rat {n m d : Nat} (X : Fin n → Fin d → Rat) (y : Fin n → Rat) (c : Rat)
    (s : Rat → Rat) (α : Rat) (u : Fin d → Rat) (hm : 0 < m) :
    loss X y c s α (tensor (ones m) u) =
      sum (fun i => (c * s (dot u (X i)) - y i) * (c * s (dot u (X i)) - y i)) /
          (two * castNat n) +
        α * castNat m / two * normSq u :=
  loss_ones_tensor X y c s α u (castNat_ne_zero_rat hm)

/-- `loss_width_eq` over the rationals, for `m ≥ 1`. -/
theorem loss_width_eq_rat {n m d : Nat} (X : Fin n → Fin d → Rat) (y : Fin n → Rat) (c : Rat)
    (s : Rat → Rat) (α : Rat) (u : Fin d → Rat) (hm : 0 < m) :
    loss X y c s α (tensor (ones m) u) = loss X y c s (α * castNat m) (tensor (ones 1) u) :=
  loss_width_eq X y c s α u (castNat_ne_zero_rat hm)

/-- `loss_ones_tensor_eq_of_mul_eq` over the rationals, for `m, m' ≥ 1`. -/
theorem loss_ones_tensor_eq_of_mul_eq_rat {n m m' d : Nat} (X : Fin n → Fin d → Rat)
    (y : Fin n → Rat) (c : Rat) (s : Rat → Rat) {α α' : Rat} (u : Fin d → Rat) (hm : 0 < m)
    (hm' : 0 < m') (h : α * castNat m = α' * castNat m') :
    loss X y c s α (tensor (ones m) u) = loss X y c s α' (tensor (ones m') u) :=
  loss_ones_tensor_eq_of_mul_eq X y c s u (castNat_ne_zero_rat hm) (castNat_ne_zero_rat hm') h

end NLPT
