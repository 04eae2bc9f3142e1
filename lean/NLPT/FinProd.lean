import NLPT.Algebra

/-!
# Flattening pairs of indices: `Fin a × Fin b ≃ Fin (a * b)`

A supporting module (no claim of the paper lives here). The kernel of `T_a` is linearly
isomorphic to `Fin (m-1) → Fin d → K` (`NLPT.KernelDim`); to state that it is linearly
isomorphic to `Fin ((m-1) * d) → K`, i.e. to `K^((m-1) d)`, this module gives an explicit,
self-made index equivalence and the linear isomorphism it induces on coordinate vectors:

* `pairIdx j k = k + j * b : Fin (a * b)` for `j : Fin a`, `k : Fin b` (row-major order), with
  inverse `fstIdx i = i / b`, `sndIdx i = i % b`; both round trips
  (`fstIdx_pairIdx`, `sndIdx_pairIdx`, `pairIdx_fstIdx_sndIdx`);
* `flatten : (Fin a → Fin b → K) → (Fin (a * b) → K)` and `unflatten` back; both round trips
  (`unflatten_flatten`, `flatten_unflatten`) and both maps additive and homogeneous.

The Nat arithmetic is proved from a handful of long-stable core lemmas (`Nat.left_distrib`,
`Nat.right_distrib`, `Nat.mul_comm`, `Nat.div_add_mod`, `Nat.mod_add_div`, `Nat.mod_lt`,
`Nat.add_mul_div_right`, `Nat.add_mul_mod_self_right`, `Nat.div_eq_of_lt`, `Nat.mod_eq_of_lt`)
and `omega`, with every product of two variables handed to `omega` as an opaque atom together
with the equations that relate it to other atoms. The cases `a = 0` and `b = 0` (empty index
types, division by zero) need no special treatment: wherever `0 < b` is needed, it is derived
from an index `k : Fin b` or `i : Fin (a * b)`.
-/

namespace NLPT

universe u

/-! ## Nat arithmetic for the index equivalence -/

/-- Right multiplication is monotone: `x ≤ y → x * c ≤ y * c`. -/
theorem idx_mul_le_mul_right {x y : Nat} (h : x ≤ y) (c : Nat) : x * c ≤ y * c := by
  induction c with
  | zero =>
    show x * 0 ≤ y * 0
    first | omega | exact Nat.zero_le (y * 0)
  | succ c ih =>
    show x * (c + 1) ≤ y * (c + 1)
    have e1 : x * (c + 1) = x * c + x * 1 := Nat.left_distrib x c 1
    have e2 : y * (c + 1) = y * c + y * 1 := Nat.left_distrib y c 1
    omega

/-- `k + j * b < a * b` for `j < a` and `k < b`. -/
theorem idx_pair_lt {a b j k : Nat} (hj : j < a) (hk : k < b) : k + j * b < a * b := by
  have h0 : j + 1 ≤ a := by omega
  have h1 : (j + 1) * b ≤ a * b := idx_mul_le_mul_right h0 b
  have h2 : (j + 1) * b = j * b + 1 * b := Nat.right_distrib j 1 b
  omega

/-- An index below `a * b` forces `0 < b`. -/
theorem idx_pos_of_lt_mul {i a b : Nat} (h : i < a * b) : 0 < b := by
  by_cases hb : b = 0
  · rw [hb, Nat.mul_zero] at h
    omega
  · omega

/-- `i < a * b → i / b < a`. -/
theorem idx_div_lt {i a b : Nat} (h : i < a * b) : i / b < a := by
  by_cases hlt : i / b < a
  · exact hlt
  · have hge : a ≤ i / b := by omega
    have h1 : a * b ≤ i / b * b := idx_mul_le_mul_right hge b
    have h2 : b * (i / b) + i % b = i := Nat.div_add_mod i b
    have h3 : b * (i / b) = i / b * b := Nat.mul_comm b (i / b)
    have h4 : 0 ≤ i % b := Nat.zero_le (i % b)
    omega

/-- `(k + j * b) / b = j` for `k < b`. -/
theorem idx_pair_div {j k b : Nat} (hk : k < b) : (k + j * b) / b = j := by
  have hb : 0 < b := by omega
  rw [Nat.add_mul_div_right k j hb, Nat.div_eq_of_lt hk, Nat.zero_add]

/-- `(k + j * b) % b = k` for `k < b`. -/
theorem idx_pair_mod {j k b : Nat} (hk : k < b) : (k + j * b) % b = k := by
  rw [Nat.add_mul_mod_self_right k j b, Nat.mod_eq_of_lt hk]

/-- `i % b + (i / b) * b = i`. -/
theorem idx_mod_add_div_mul (i b : Nat) : i % b + i / b * b = i := by
  have h2 : i % b + b * (i / b) = i := Nat.mod_add_div i b
  have h3 : b * (i / b) = i / b * b := Nat.mul_comm b (i / b)
  omega

/-! ## The index equivalence `Fin a × Fin b ≃ Fin (a * b)` -/

/-- The flat index of the pair `(j, k)`: `k + j * b` (row `j`, column `k`, row-major). -/
def pairIdx {a b : Nat} (j : Fin a) (k : Fin b) : Fin (a * b) :=
  ⟨k.val + j.val * b, idx_pair_lt j.isLt k.isLt⟩

/-- The row of a flat index: `i / b`. -/
def fstIdx {a b : Nat} (i : Fin (a * b)) : Fin a :=
  ⟨i.val / b, idx_div_lt i.isLt⟩

/-- The column of a flat index: `i % b`. -/
def sndIdx {a b : Nat} (i : Fin (a * b)) : Fin b :=
  ⟨i.val % b, Nat.mod_lt i.val (idx_pos_of_lt_mul i.isLt)⟩

theorem fstIdx_pairIdx {a b : Nat} (j : Fin a) (k : Fin b) : fstIdx (pairIdx j k) = j := by
  apply Fin.eq_of_val_eq
  show (k.val + j.val * b) / b = j.val
  exact idx_pair_div (j := j.val) k.isLt

theorem sndIdx_pairIdx {a b : Nat} (j : Fin a) (k : Fin b) : sndIdx (pairIdx j k) = k := by
  apply Fin.eq_of_val_eq
  show (k.val + j.val * b) % b = k.val
  exact idx_pair_mod (j := j.val) k.isLt

theorem pairIdx_fstIdx_sndIdx {a b : Nat} (i : Fin (a * b)) :
    pairIdx (fstIdx i) (sndIdx i) = i := by
  apply Fin.eq_of_val_eq
  show i.val % b + i.val / b * b = i.val
  exact idx_mod_add_div_mul i.val b

/-! ## Flattening coordinate vectors -/

/-- `flatten W (pairIdx j k) = W j k`: a `Fin a → Fin b → K` array as a vector of length
`a * b`. -/
def flatten {K : Type u} {a b : Nat} (W : Fin a → Fin b → K) (i : Fin (a * b)) : K :=
  W (fstIdx i) (sndIdx i)

/-- The inverse of `flatten`: `unflatten x j k = x (pairIdx j k)`. -/
def unflatten {K : Type u} {a b : Nat} (x : Fin (a * b) → K) (j : Fin a) (k : Fin b) : K :=
  x (pairIdx j k)

theorem unflatten_flatten {K : Type u} {a b : Nat} (W : Fin a → Fin b → K) :
    unflatten (flatten W) = W := by
  funext j k
  show W (fstIdx (pairIdx j k)) (sndIdx (pairIdx j k)) = W j k
  rw [fstIdx_pairIdx j k, sndIdx_pairIdx j k]

theorem flatten_unflatten {K : Type u} {a b : Nat} (x : Fin (a * b) → K) :
    flatten (unflatten x) = x := by
  funext i
  show x (pairIdx (fstIdx i) (sndIdx i)) = x i
  rw [pairIdx_fstIdx_sndIdx i]

section Flatten

variable {K : Type u} [Field K]

theorem flatten_add {a b : Nat} (W W' : Fin a → Fin b → K) :
    flatten (fun j k => W j k + W' j k) = fun i => flatten W i + flatten W' i := rfl

theorem flatten_smul {a b : Nat} (c : K) (W : Fin a → Fin b → K) :
    flatten (fun j k => c * W j k) = fun i => c * flatten W i := rfl

theorem unflatten_add {a b : Nat} (x x' : Fin (a * b) → K) :
    unflatten (fun i => x i + x' i) = fun j k => unflatten x j k + unflatten x' j k := rfl

theorem unflatten_smul {a b : Nat} (c : K) (x : Fin (a * b) → K) :
    unflatten (fun i => c * x i) = fun j k => c * unflatten x j k := rfl

end Flatten

end NLPT
