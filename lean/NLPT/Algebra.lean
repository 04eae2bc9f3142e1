/-!
# Algebraic foundations of the formal layer

The statements of the paper *The Non-Linearity Perturbation Threshold* (arXiv 2604.01334) that
this library checks are algebraic: they hold over any field, and over any ordered field where
signs are involved. This module fixes that setting with definitions of the project's own, so
that every later proof depends only on axioms written out here:

* `NLPT.Field` — a field, its axioms listed as class fields;
* `NLPT.OrderedField` — a linearly ordered field;
* the instances for core's `Rat`, each axiom discharged by a lemma of core's `Rat` library;
* finite sums `NLPT.sum` over `Fin m` by recursion, with the lemmas the other modules use:
  additivity, pulling out a scalar, vanishing, non-negativity, and splitting off an arbitrary
  index `p` (`sum_skip`), with `skip p : Fin n → Fin (n+1)` the order-preserving enumeration of
  the indices different from `p` and `unskip` its inverse;
* quadratic forms `qform S u = Σ_k u_k Σ_l S_kl u_l`, the identity matrix and `normSq`.

Nothing here is a claim of the paper; the claims live in `NLPT.KernelDim`, `NLPT.GaussNewton`,
`NLPT.Floor`, `NLPT.Threshold` and `NLPT.NormalForm`.
-/

namespace NLPT

universe u

/-- A field, with its axioms as class fields. The operations come from core's notation classes,
so `a + b`, `a * b`, `-a`, `a - b`, `a⁻¹`, `a / b`, `0` and `1` have their usual meaning. -/
class Field (K : Type u) extends Add K, Mul K, Neg K, Sub K, Inv K, Div K, Zero K, One K where
  add_assoc : ∀ a b c : K, a + b + c = a + (b + c)
  add_comm : ∀ a b : K, a + b = b + a
  add_zero : ∀ a : K, a + 0 = a
  neg_add_cancel : ∀ a : K, -a + a = 0
  mul_assoc : ∀ a b c : K, a * b * c = a * (b * c)
  mul_comm : ∀ a b : K, a * b = b * a
  mul_one : ∀ a : K, a * 1 = a
  mul_add : ∀ a b c : K, a * (b + c) = a * b + a * c
  sub_eq_add_neg : ∀ a b : K, a - b = a + -b
  div_eq_mul_inv : ∀ a b : K, a / b = a * b⁻¹
  mul_inv_cancel : ∀ a : K, a ≠ 0 → a * a⁻¹ = 1
  zero_ne_one : (0 : K) ≠ 1

/-- A linearly ordered field: a total order compatible with addition, in which products of
non-negative elements are non-negative. `a < b` is tied to `≤` by `not_le`. -/
class OrderedField (K : Type u) extends Field K, LE K, LT K where
  le_refl : ∀ a : K, a ≤ a
  le_trans : ∀ a b c : K, a ≤ b → b ≤ c → a ≤ c
  le_antisymm : ∀ a b : K, a ≤ b → b ≤ a → a = b
  le_total : ∀ a b : K, a ≤ b ∨ b ≤ a
  not_le : ∀ a b : K, ¬ a ≤ b ↔ b < a
  add_le_add_left : ∀ a b c : K, a ≤ b → c + a ≤ c + b
  mul_nonneg : ∀ a b : K, 0 ≤ a → 0 ≤ b → 0 ≤ a * b

/-! ## Derived field identities -/

namespace Field

variable {K : Type u} [Field K]

theorem zero_add (a : K) : 0 + a = a := by
  rw [Field.add_comm 0 a, Field.add_zero]

theorem add_neg_cancel (a : K) : a + -a = 0 := by
  rw [Field.add_comm a (-a), Field.neg_add_cancel]

theorem one_mul (a : K) : 1 * a = a := by
  rw [Field.mul_comm 1 a, Field.mul_one]

theorem add_mul (a b c : K) : (a + b) * c = a * c + b * c := by
  rw [Field.mul_comm (a + b) c, Field.mul_add c a b, Field.mul_comm c a, Field.mul_comm c b]

theorem add_left_comm (a b c : K) : a + (b + c) = b + (a + c) := by
  rw [← Field.add_assoc a b c, Field.add_comm a b, Field.add_assoc b a c]

theorem mul_left_comm (a b c : K) : a * (b * c) = b * (a * c) := by
  rw [← Field.mul_assoc a b c, Field.mul_comm a b, Field.mul_assoc b a c]

theorem add_add_add_comm (a b c d : K) : a + b + (c + d) = a + c + (b + d) := by
  rw [Field.add_assoc a b (c + d), Field.add_left_comm b c d, ← Field.add_assoc a c (b + d)]

theorem neg_add_cancel_left (a b : K) : -a + (a + b) = b := by
  rw [← Field.add_assoc (-a) a b, Field.neg_add_cancel, Field.zero_add]

theorem add_left_cancel {a b c : K} (h : a + b = a + c) : b = c := by
  rw [← Field.neg_add_cancel_left a b, h, Field.neg_add_cancel_left a c]

theorem add_right_cancel {a b c : K} (h : a + c = b + c) : a = b := by
  rw [Field.add_comm a c, Field.add_comm b c] at h
  exact Field.add_left_cancel h

theorem mul_zero (a : K) : a * 0 = 0 := by
  have h : a * 0 + a * 0 = a * 0 + 0 := by
    rw [← Field.mul_add a 0 0, Field.add_zero (0 : K), Field.add_zero (a * 0)]
  exact Field.add_left_cancel h

theorem zero_mul (a : K) : 0 * a = 0 := by
  rw [Field.mul_comm 0 a, Field.mul_zero]

theorem neg_eq_of_add_eq_zero {a b : K} (h : a + b = 0) : -a = b := by
  rw [← Field.add_zero (-a), ← h, Field.neg_add_cancel_left a b]

theorem eq_neg_of_add_eq_zero {a b : K} (h : a + b = 0) : a = -b := by
  have h' : b + a = 0 := by
    rw [Field.add_comm b a]
    exact h
  exact (Field.neg_eq_of_add_eq_zero h').symm

theorem neg_neg (a : K) : -(-a) = a :=
  Field.neg_eq_of_add_eq_zero (Field.neg_add_cancel a)

theorem neg_zero : -(0 : K) = 0 :=
  Field.neg_eq_of_add_eq_zero (Field.add_zero (0 : K))

theorem neg_add (a b : K) : -(a + b) = -a + -b := by
  apply Field.neg_eq_of_add_eq_zero
  rw [Field.add_add_add_comm a b (-a) (-b), Field.add_neg_cancel a, Field.add_neg_cancel b,
    Field.add_zero (0 : K)]

theorem neg_mul (a b : K) : -a * b = -(a * b) := by
  apply Eq.symm
  apply Field.neg_eq_of_add_eq_zero
  rw [← Field.add_mul a (-a) b, Field.add_neg_cancel a, Field.zero_mul]

theorem mul_neg (a b : K) : a * -b = -(a * b) := by
  rw [Field.mul_comm a (-b), Field.neg_mul b a, Field.mul_comm b a]

theorem neg_mul_neg (a b : K) : -a * -b = a * b := by
  rw [Field.neg_mul a (-b), Field.mul_neg a b, Field.neg_neg]

theorem mul_neg_one (a : K) : a * -1 = -a := by
  rw [Field.mul_neg a 1, Field.mul_one]

theorem inv_mul_cancel {a : K} (h : a ≠ 0) : a⁻¹ * a = 1 := by
  rw [Field.mul_comm a⁻¹ a]
  exact Field.mul_inv_cancel a h

theorem inv_mul_cancel_left {a : K} (h : a ≠ 0) (b : K) : a⁻¹ * (a * b) = b := by
  rw [← Field.mul_assoc a⁻¹ a b, Field.inv_mul_cancel h, Field.one_mul]

theorem mul_div_cancel {c : K} (h : c ≠ 0) (a : K) : c * (a / c) = a := by
  rw [Field.div_eq_mul_inv, Field.mul_comm a c⁻¹, ← Field.mul_assoc c c⁻¹ a,
    Field.mul_inv_cancel c h, Field.one_mul]

theorem div_mul_cancel {c : K} (h : c ≠ 0) (a : K) : a / c * c = a := by
  rw [Field.div_eq_mul_inv, Field.mul_assoc a c⁻¹ c, Field.inv_mul_cancel h, Field.mul_one]

theorem eq_zero_of_mul_left {a b : K} (ha : a ≠ 0) (h : a * b = 0) : b = 0 := by
  rw [← Field.inv_mul_cancel_left ha b, h, Field.mul_zero]

theorem mul_ne_zero {a b : K} (ha : a ≠ 0) (hb : b ≠ 0) : a * b ≠ 0 :=
  fun h => hb (Field.eq_zero_of_mul_left ha h)

theorem inv_ne_zero {a : K} (h : a ≠ 0) : a⁻¹ ≠ 0 := by
  intro e
  apply Field.zero_ne_one (K := K)
  rw [← Field.mul_inv_cancel a h, e, Field.mul_zero]

theorem div_ne_zero {a b : K} (ha : a ≠ 0) (hb : b ≠ 0) : a / b ≠ 0 := by
  rw [Field.div_eq_mul_inv]
  exact Field.mul_ne_zero ha (Field.inv_ne_zero hb)

/-- Solving `c * x = y` for `x`. -/
theorem eq_div_of_mul_eq {c x y : K} (hc : c ≠ 0) (h : c * x = y) : x = y / c := by
  rw [← h, Field.div_eq_mul_inv, Field.mul_comm c x, Field.mul_assoc x c c⁻¹,
    Field.mul_inv_cancel c hc, Field.mul_one]

/-- Clearing the denominator of `x / c = y`. -/
theorem eq_mul_of_div_eq {c x y : K} (hc : c ≠ 0) (h : x / c = y) : x = y * c := by
  rw [← h, Field.div_mul_cancel hc x]

theorem neg_div (a b : K) : -(a / b) = -a / b := by
  rw [Field.div_eq_mul_inv a b, Field.div_eq_mul_inv (-a) b, Field.neg_mul a b⁻¹]

theorem mul_div_right_comm (a b c : K) : a * b / c = a / c * b := by
  rw [Field.div_eq_mul_inv (a * b) c, Field.div_eq_mul_inv a c, Field.mul_assoc a b c⁻¹,
    Field.mul_comm b c⁻¹, ← Field.mul_assoc a c⁻¹ b]

/-- Dividing by a quotient: `a / (b / c) = a * c / b`. -/
theorem div_div_eq_mul_div {b c : K} (hb : b ≠ 0) (hc : c ≠ 0) (a : K) :
    a / (b / c) = a * c / b := by
  apply Field.eq_div_of_mul_eq hb
  have hbc : b / c ≠ 0 := Field.div_ne_zero hb hc
  calc b * (a / (b / c)) = b / c * c * (a / (b / c)) := by rw [Field.div_mul_cancel hc b]
    _ = c * (b / c * (a / (b / c))) := by
        rw [Field.mul_comm (b / c) c, Field.mul_assoc c (b / c) (a / (b / c))]
    _ = c * a := by rw [Field.mul_div_cancel hbc a]
    _ = a * c := Field.mul_comm c a

end Field

/-- The element `2 = 1 + 1` of a field. -/
def two {K : Type u} [Field K] : K := 1 + 1

/-- The element `6 = 2 + 2 + 2` of a field. -/
def six {K : Type u} [Field K] : K := two + two + two

/-! ## Derived order facts -/

namespace OrderedField

variable {K : Type u} [OrderedField K]

theorem lt_irrefl (a : K) : ¬ a < a :=
  fun h => (OrderedField.not_le a a).mpr h (OrderedField.le_refl a)

theorem le_of_lt {a b : K} (h : a < b) : a ≤ b :=
  (OrderedField.le_total a b).elim id
    (fun hba => absurd hba ((OrderedField.not_le b a).mpr h))

theorem lt_of_le_of_lt {a b c : K} (hab : a ≤ b) (hbc : b < c) : a < c :=
  (OrderedField.not_le c a).mp
    (fun hca => (OrderedField.not_le c b).mpr hbc (OrderedField.le_trans c a b hca hab))

theorem lt_of_lt_of_le {a b c : K} (hab : a < b) (hbc : b ≤ c) : a < c :=
  (OrderedField.not_le c a).mp
    (fun hca => (OrderedField.not_le b a).mpr hab (OrderedField.le_trans b c a hbc hca))

theorem lt_of_le_of_ne {a b : K} (h : a ≤ b) (hne : a ≠ b) : a < b :=
  (OrderedField.not_le b a).mp (fun hba => hne (OrderedField.le_antisymm a b h hba))

theorem ne_of_lt {a b : K} (h : a < b) : a ≠ b := by
  intro e
  rw [e] at h
  exact OrderedField.lt_irrefl b h

theorem ne_of_gt {a b : K} (h : a < b) : b ≠ a := by
  intro e
  rw [e] at h
  exact OrderedField.lt_irrefl a h

theorem add_le_add_right {a b : K} (h : a ≤ b) (c : K) : a + c ≤ b + c := by
  rw [Field.add_comm a c, Field.add_comm b c]
  exact OrderedField.add_le_add_left a b c h

theorem le_of_add_le_add_left {a b c : K} (h : c + a ≤ c + b) : a ≤ b := by
  have h' := OrderedField.add_le_add_left (c + a) (c + b) (-c) h
  rw [Field.neg_add_cancel_left c a, Field.neg_add_cancel_left c b] at h'
  exact h'

theorem neg_nonneg_of_nonpos {a : K} (h : a ≤ 0) : 0 ≤ -a := by
  have h' := OrderedField.add_le_add_left a 0 (-a) h
  rw [Field.neg_add_cancel, Field.add_zero] at h'
  exact h'

theorem neg_pos_of_neg {a : K} (h : a < 0) : 0 < -a := by
  apply OrderedField.lt_of_le_of_ne (OrderedField.neg_nonneg_of_nonpos (OrderedField.le_of_lt h))
  intro e
  apply OrderedField.ne_of_lt h
  rw [← Field.neg_neg a, ← e, Field.neg_zero]

theorem add_nonneg {a b : K} (ha : 0 ≤ a) (hb : 0 ≤ b) : 0 ≤ a + b := by
  have h := OrderedField.add_le_add_left 0 b a hb
  rw [Field.add_zero] at h
  exact OrderedField.le_trans 0 a (a + b) ha h

theorem add_pos_of_pos_of_nonneg {a b : K} (ha : 0 < a) (hb : 0 ≤ b) : 0 < a + b := by
  have h := OrderedField.add_le_add_left 0 b a hb
  rw [Field.add_zero] at h
  exact OrderedField.lt_of_lt_of_le ha h

theorem add_pos_of_nonneg_of_pos {a b : K} (ha : 0 ≤ a) (hb : 0 < b) : 0 < a + b := by
  rw [Field.add_comm a b]
  exact OrderedField.add_pos_of_pos_of_nonneg hb ha

theorem zero_le_one : (0 : K) ≤ 1 := by
  cases OrderedField.le_total (0 : K) 1 with
  | inl h => exact h
  | inr h =>
    have h1 := OrderedField.neg_nonneg_of_nonpos h
    have h2 := OrderedField.mul_nonneg (-1) (-1) h1 h1
    rw [Field.neg_mul_neg, Field.mul_one] at h2
    exact h2

theorem zero_lt_one : (0 : K) < 1 :=
  OrderedField.lt_of_le_of_ne OrderedField.zero_le_one Field.zero_ne_one

theorem mul_pos {a b : K} (ha : 0 < a) (hb : 0 < b) : 0 < a * b := by
  apply OrderedField.lt_of_le_of_ne
    (OrderedField.mul_nonneg a b (OrderedField.le_of_lt ha) (OrderedField.le_of_lt hb))
  intro e
  exact OrderedField.ne_of_gt hb (Field.eq_zero_of_mul_left (OrderedField.ne_of_gt ha) e.symm)

theorem inv_pos {a : K} (h : 0 < a) : 0 < a⁻¹ := by
  apply (OrderedField.not_le a⁻¹ 0).mp
  intro hle
  have ha : a ≠ 0 := OrderedField.ne_of_gt h
  have h1 := OrderedField.neg_nonneg_of_nonpos hle
  have h2 := OrderedField.mul_nonneg a (-a⁻¹) (OrderedField.le_of_lt h) h1
  rw [Field.mul_neg, Field.mul_inv_cancel a ha] at h2
  have h3 := OrderedField.add_le_add_left 0 (-1) 1 h2
  rw [Field.add_zero, Field.add_neg_cancel] at h3
  exact (OrderedField.not_le 1 0).mpr OrderedField.zero_lt_one h3

theorem div_pos {a b : K} (ha : 0 < a) (hb : 0 < b) : 0 < a / b := by
  rw [Field.div_eq_mul_inv]
  exact OrderedField.mul_pos ha (OrderedField.inv_pos hb)

theorem mul_le_mul_of_nonneg_left {a b c : K} (h : a ≤ b) (hc : 0 ≤ c) : c * a ≤ c * b := by
  have h1 : 0 ≤ -a + b := by
    have h2 := OrderedField.add_le_add_left a b (-a) h
    rw [Field.neg_add_cancel] at h2
    exact h2
  have h3 := OrderedField.mul_nonneg c (-a + b) hc h1
  rw [Field.mul_add, Field.mul_neg] at h3
  have h4 := OrderedField.add_le_add_left 0 (-(c * a) + c * b) (c * a) h3
  rw [Field.add_zero, ← Field.add_assoc (c * a) (-(c * a)) (c * b), Field.add_neg_cancel,
    Field.zero_add] at h4
  exact h4

/-- Multiplying by a positive element preserves and reflects `≤`. -/
theorem mul_le_mul_left_iff {a b c : K} (hc : 0 < c) : c * a ≤ c * b ↔ a ≤ b := by
  constructor
  · intro h
    have h2 := OrderedField.mul_le_mul_of_nonneg_left h
      (OrderedField.le_of_lt (OrderedField.inv_pos hc))
    rw [Field.inv_mul_cancel_left (OrderedField.ne_of_gt hc) a,
      Field.inv_mul_cancel_left (OrderedField.ne_of_gt hc) b] at h2
    exact h2
  · intro h
    exact OrderedField.mul_le_mul_of_nonneg_left h (OrderedField.le_of_lt hc)

theorem mul_lt_mul_of_pos_left {a b c : K} (h : a < b) (hc : 0 < c) : c * a < c * b :=
  (OrderedField.not_le (c * b) (c * a)).mp
    (fun hle => (OrderedField.not_le b a).mpr h ((OrderedField.mul_le_mul_left_iff hc).mp hle))

theorem mul_self_nonneg (a : K) : 0 ≤ a * a := by
  cases OrderedField.le_total 0 a with
  | inl h => exact OrderedField.mul_nonneg a a h h
  | inr h =>
    have h1 := OrderedField.neg_nonneg_of_nonpos h
    have h2 := OrderedField.mul_nonneg (-a) (-a) h1 h1
    rw [Field.neg_mul_neg] at h2
    exact h2

theorem mul_self_pos {a : K} (h : a ≠ 0) : 0 < a * a := by
  cases OrderedField.le_total 0 a with
  | inl h0 =>
    have hp : 0 < a := OrderedField.lt_of_le_of_ne h0 (fun e => h e.symm)
    exact OrderedField.mul_pos hp hp
  | inr h0 =>
    have hn : 0 < -a := by
      apply OrderedField.lt_of_le_of_ne (OrderedField.neg_nonneg_of_nonpos h0)
      intro e
      apply h
      rw [← Field.neg_neg a, ← e, Field.neg_zero]
    have h2 := OrderedField.mul_pos hn hn
    rw [Field.neg_mul_neg] at h2
    exact h2

theorem two_pos : (0 : K) < two :=
  OrderedField.add_pos_of_nonneg_of_pos OrderedField.zero_le_one OrderedField.zero_lt_one

theorem six_pos : (0 : K) < six :=
  OrderedField.add_pos_of_nonneg_of_pos
    (OrderedField.le_of_lt
      (OrderedField.add_pos_of_nonneg_of_pos (OrderedField.le_of_lt OrderedField.two_pos)
        OrderedField.two_pos))
    OrderedField.two_pos

end OrderedField

/-! ## The rational numbers

Every axiom is a lemma of core's `Rat` library (`Init/Data/Rat/Lemmas.lean`); the same lemmas
back core's own `Lean.Grind.Field Rat` and ordered instances. Both instances serve proofs only
and are `noncomputable`: no code is generated for them (a Lean built without core's
code-generation data cannot compile them), which changes nothing that a theorem states. -/

noncomputable instance instFieldRat : Field Rat where
  zero := 0
  one := 1
  add_assoc := Rat.add_assoc
  add_comm := Rat.add_comm
  add_zero := Rat.add_zero
  neg_add_cancel := Rat.neg_add_cancel
  mul_assoc := Rat.mul_assoc
  mul_comm := Rat.mul_comm
  mul_one := Rat.mul_one
  mul_add := Rat.mul_add
  sub_eq_add_neg := Rat.sub_eq_add_neg
  div_eq_mul_inv := by
    first
    | exact Rat.div_def
    | exact fun _ _ => rfl
  mul_inv_cancel := by
    first
    | exact Rat.mul_inv_cancel
    | exact fun a h => Rat.mul_inv_cancel a h
    | exact fun a h => Rat.mul_inv_cancel h
  zero_ne_one := by
    first
    | decide
    | exact fun h => absurd (congrArg Rat.num h) (by decide)

noncomputable instance instOrderedFieldRat : OrderedField Rat where
  toField := instFieldRat
  le_refl := by
    first
    | exact fun _ => Rat.le_refl
    | exact fun a => Rat.le_refl a
  le_trans := by
    first
    | exact fun _ _ _ => Rat.le_trans
    | exact fun a b c => Rat.le_trans a b c
  le_antisymm := by
    first
    | exact fun _ _ => Rat.le_antisymm
    | exact fun a b => Rat.le_antisymm a b
  le_total := by
    first
    | exact fun _ _ => Rat.le_total
    | exact fun a b => Rat.le_total a b
  not_le := by
    first
    | exact fun _ _ => Rat.not_le
    | exact fun a b => Rat.not_le a b
  add_le_add_left := by
    first
    | exact fun _ _ _ h => Rat.add_le_add_left.mpr h
    | exact fun _ _ c h => Rat.add_le_add_left h c
    | exact fun a b c h => (Rat.add_le_add_left a b c).mpr h
  mul_nonneg := by
    first
    | exact fun _ _ => Rat.mul_nonneg
    | exact fun a b => Rat.mul_nonneg a b

/-! ## Finite sums over `Fin m` -/

/-- `0 : Fin (m+1)`. -/
def fzero {m : Nat} : Fin (m + 1) := ⟨0, by omega⟩

/-- `i ↦ i + 1 : Fin m → Fin (m+1)`. -/
def fsucc {m : Nat} (i : Fin m) : Fin (m + 1) := ⟨i.val + 1, by have := i.isLt; omega⟩

/-- Sum of `f 0, …, f (m-1)`, with the length explicit. -/
def sumN {K : Type u} [Field K] : (m : Nat) → (Fin m → K) → K
  | 0, _ => 0
  | m + 1, f => f fzero + sumN m (fun i => f (fsucc i))

/-- `sum f = Σ_{i < m} f i`. -/
def sum {K : Type u} [Field K] {m : Nat} (f : Fin m → K) : K := sumN m f

section Sums

variable {K : Type u} [Field K]

theorem sum_zero_len (f : Fin 0 → K) : sum f = 0 := rfl

theorem sum_succ {m : Nat} (f : Fin (m + 1) → K) :
    sum f = f fzero + sum (fun i => f (fsucc i)) := rfl

theorem sum_congr {m : Nat} {f g : Fin m → K} (h : ∀ i, f i = g i) : sum f = sum g :=
  congrArg sum (funext h)

theorem sum_add {m : Nat} (f g : Fin m → K) :
    sum (fun i => f i + g i) = sum f + sum g := by
  induction m with
  | zero =>
    show (0 : K) = 0 + 0
    exact (Field.add_zero (0 : K)).symm
  | succ m ih =>
    rw [sum_succ (fun i => f i + g i), sum_succ f, sum_succ g,
      ih (fun i => f (fsucc i)) (fun i => g (fsucc i))]
    exact Field.add_add_add_comm _ _ _ _

theorem sum_mul_left {m : Nat} (c : K) (f : Fin m → K) :
    sum (fun i => c * f i) = c * sum f := by
  induction m with
  | zero =>
    show (0 : K) = c * 0
    exact (Field.mul_zero c).symm
  | succ m ih =>
    rw [sum_succ (fun i => c * f i), sum_succ f, ih (fun i => f (fsucc i)),
      Field.mul_add c (f fzero) (sum (fun i => f (fsucc i)))]

theorem sum_eq_zero {m : Nat} (f : Fin m → K) (h : ∀ i, f i = 0) : sum f = 0 := by
  induction m with
  | zero => rfl
  | succ m ih =>
    rw [sum_succ f, h fzero, ih (fun i => f (fsucc i)) (fun i => h (fsucc i)),
      Field.add_zero (0 : K)]

end Sums

theorem sum_nonneg {K : Type u} [OrderedField K] {m : Nat} (f : Fin m → K)
    (h : ∀ i, 0 ≤ f i) : 0 ≤ sum f := by
  induction m with
  | zero => exact OrderedField.le_refl 0
  | succ m ih =>
    rw [sum_succ f]
    exact OrderedField.add_nonneg (h fzero) (ih (fun i => f (fsucc i)) (fun i => h (fsucc i)))

/-! ## Splitting off one index -/

/-- The `i`-th index of `Fin (n+1)` different from `p`, in increasing order. -/
def skip {n : Nat} (p : Fin (n + 1)) (i : Fin n) : Fin (n + 1) :=
  ⟨if i.val < p.val then i.val else i.val + 1, by
    have hi := i.isLt
    split <;> omega⟩

/-- The position of `j ≠ p` among the indices different from `p`. -/
def unskip {n : Nat} (p j : Fin (n + 1)) (h : j ≠ p) : Fin n :=
  ⟨if j.val < p.val then j.val else j.val - 1, by
    have hj := j.isLt
    have hp := p.isLt
    have hne : j.val ≠ p.val := fun e => h (Fin.eq_of_val_eq e)
    split <;> omega⟩

theorem skip_val {n : Nat} (p : Fin (n + 1)) (i : Fin n) :
    (skip p i).val = if i.val < p.val then i.val else i.val + 1 := rfl

theorem unskip_val {n : Nat} (p j : Fin (n + 1)) (h : j ≠ p) :
    (unskip p j h).val = if j.val < p.val then j.val else j.val - 1 := rfl

theorem skip_ne {n : Nat} (p : Fin (n + 1)) (i : Fin n) : skip p i ≠ p := by
  intro e
  have h := congrArg Fin.val e
  rw [skip_val] at h
  split at h <;> omega

theorem unskip_skip {n : Nat} (p : Fin (n + 1)) (i : Fin n) (h : skip p i ≠ p) :
    unskip p (skip p i) h = i := by
  apply Fin.eq_of_val_eq
  rw [unskip_val, skip_val]
  by_cases hc : i.val < p.val
  · rw [if_pos hc, if_pos hc]
  · rw [if_neg hc, if_neg (show ¬ (i.val + 1 < p.val) by omega)]
    all_goals omega

theorem skip_unskip {n : Nat} (p j : Fin (n + 1)) (h : j ≠ p) : skip p (unskip p j h) = j := by
  apply Fin.eq_of_val_eq
  have hne : j.val ≠ p.val := fun e => h (Fin.eq_of_val_eq e)
  rw [skip_val, unskip_val]
  by_cases hc : j.val < p.val
  · rw [if_pos hc, if_pos hc]
  · rw [if_neg hc, if_neg (show ¬ (j.val - 1 < p.val) by omega)]
    all_goals omega

/-- A sum over `Fin (n+1)` is its `p`-th term plus the sum over the other indices. -/
theorem sum_skip {K : Type u} [Field K] {n : Nat} (p : Fin (n + 1)) (f : Fin (n + 1) → K) :
    sum f = f p + sum (fun i => f (skip p i)) := by
  induction n with
  | zero =>
    have hp : p = fzero := Fin.eq_of_val_eq (by have := p.isLt; show p.val = 0; omega)
    rw [hp, sum_succ f, sum_zero_len (fun i => f (fsucc i)),
      sum_zero_len (fun i => f (skip fzero i))]
  | succ n ih =>
    have hlt := p.isLt
    by_cases hp : p.val = 0
    · have hp' : p = fzero := Fin.eq_of_val_eq hp
      have hs : sum (fun i : Fin (n + 1) => f (skip p i)) = sum (fun i => f (fsucc i)) :=
        sum_congr (fun i => congrArg f (Fin.eq_of_val_eq (by
          show (if i.val < p.val then i.val else i.val + 1) = i.val + 1
          split <;> omega)))
      rw [hs, hp', sum_succ f]
    · have hq1 : p.val - 1 < n + 1 := by omega
      have ihq : sum (fun i : Fin (n + 1) => f (fsucc i)) =
          f (fsucc (⟨p.val - 1, hq1⟩ : Fin (n + 1))) +
            sum (fun i : Fin n => f (fsucc (skip ⟨p.val - 1, hq1⟩ i))) :=
        ih ⟨p.val - 1, hq1⟩ (fun i => f (fsucc i))
      have hq : fsucc (⟨p.val - 1, hq1⟩ : Fin (n + 1)) = p :=
        Fin.eq_of_val_eq (by show p.val - 1 + 1 = p.val; omega)
      have h0 : skip p fzero = fzero :=
        Fin.eq_of_val_eq (by
          show (if 0 < p.val then 0 else 0 + 1) = 0
          split <;> omega)
      have hs2 : sum (fun i : Fin n => f (skip p (fsucc i))) =
          sum (fun i : Fin n => f (fsucc (skip ⟨p.val - 1, hq1⟩ i))) :=
        sum_congr (fun i => congrArg f (Fin.eq_of_val_eq (by
          show (if i.val + 1 < p.val then i.val + 1 else i.val + 1 + 1) =
            (if i.val < p.val - 1 then i.val else i.val + 1) + 1
          split <;> split <;> omega)))
      have hs : sum (fun i : Fin (n + 1) => f (skip p i)) =
          f fzero + sum (fun i : Fin n => f (fsucc (skip ⟨p.val - 1, hq1⟩ i))) := by
        rw [sum_succ (fun i : Fin (n + 1) => f (skip p i))]
        show f (skip p fzero) + sum (fun i : Fin n => f (skip p (fsucc i))) = _
        rw [h0, hs2]
      rw [sum_succ f, ihq, hq, hs]
      exact Field.add_left_comm _ _ _

/-! ## Quadratic forms -/

section Forms

variable {K : Type u} [Field K]

/-- The quadratic form `u ↦ Σ_k u_k Σ_l S_kl u_l` of a square matrix `S`. -/
def qform {d : Nat} (S : Fin d → Fin d → K) (u : Fin d → K) : K :=
  sum (fun k => u k * sum (fun l => S k l * u l))

/-- The identity matrix. -/
def idMat (n : Nat) (i j : Fin n) : K := if i = j then 1 else 0

/-- `|v|² = Σ_i v_i v_i`. -/
def normSq {n : Nat} (v : Fin n → K) : K := sum (fun i => v i * v i)

theorem qform_eq_zero_of {d : Nat} (S : Fin d → Fin d → K) (u : Fin d → K)
    (h : ∀ k, u k = 0) : qform S u = 0 := by
  unfold qform
  exact sum_eq_zero _ (fun k => by
    show u k * sum (fun l => S k l * u l) = 0
    rw [h k, Field.zero_mul])

theorem idMat_self {n : Nat} (i : Fin n) : idMat n i i = (1 : K) := by
  unfold idMat
  exact if_pos rfl

theorem idMat_ne {n : Nat} {i j : Fin n} (h : i ≠ j) : idMat n i j = (0 : K) := by
  unfold idMat
  exact if_neg h

/-- The identity matrix acts as the identity: `Σ_j δ_ij v_j = v_i`. -/
theorem sum_idMat {n : Nat} (v : Fin n → K) (i : Fin n) :
    sum (fun j => idMat n i j * v j) = v i := by
  cases n with
  | zero => exact absurd i.isLt (by omega)
  | succ n =>
    rw [sum_skip i (fun j => idMat (n + 1) i j * v j)]
    show idMat (n + 1) i i * v i + sum (fun k => idMat (n + 1) i (skip i k) * v (skip i k)) = v i
    rw [idMat_self (K := K) i, Field.one_mul (v i)]
    have h0 : sum (fun k => idMat (n + 1) i (skip i k) * v (skip i k)) = 0 :=
      sum_eq_zero _ (fun k => by
        show idMat (n + 1) i (skip i k) * v (skip i k) = 0
        rw [idMat_ne (fun e => skip_ne i k e.symm), Field.zero_mul])
    rw [h0, Field.add_zero (v i)]

end Forms

/-- `|v|² > 0` as soon as one entry of `v` is nonzero. -/
theorem normSq_pos {K : Type u} [OrderedField K] {n : Nat} (v : Fin n → K) (i : Fin n)
    (hi : v i ≠ 0) : 0 < normSq v := by
  cases n with
  | zero => exact absurd i.isLt (by omega)
  | succ n =>
    unfold normSq
    rw [sum_skip i (fun j => v j * v j)]
    show 0 < v i * v i + sum (fun k => v (skip i k) * v (skip i k))
    exact OrderedField.add_pos_of_pos_of_nonneg (OrderedField.mul_self_pos hi)
      (sum_nonneg _ (fun k => OrderedField.mul_self_nonneg (v (skip i k))))

end NLPT
