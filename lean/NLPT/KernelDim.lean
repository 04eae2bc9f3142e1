import NLPT.Algebra
import NLPT.FinProd

/-!
# Kernel dimension of the bilinear map `T_a`

Paper claim (arXiv 2604.01334; SPEC section 3, "Kernel dimension"): at the linear endpoint the
network output depends on the first-layer weights `W` only through `Σ_j a_j w_j`, so when
`a ≠ 0` the unregularized Hessian has the kernel `ker T_a = {V : Σ_j a_j v_j = 0}`, of dimension
exactly `(m-1) d`.

Formalized here for an arbitrary field `K`, widths `m`, `d`, and any pivot `p` with `a p ≠ 0`:

* `T_a V = fun k => Σ_j a_j V_jk` (`applyT`) is surjective onto `Fin d → K`
  (`applyT_surjective`), i.e. `T_a` has rank `d`;
* its kernel is linearly isomorphic to `Fin (m-1) → Fin d → K` (`ker_equiv_fin_pred`, with the
  seven conditions of a linear isomorphism collected in the structure `IsKerEquiv`): the map
  `kerFwd` forgets the pivot row, the map `kerBwd` rebuilds it as
  `V_p = -(a_p)⁻¹ Σ_{j≠p} a_j V_j`; both round trips hold (`kerFwd_kerBwd`, `kerBwd_kerFwd`),
  `kerBwd` lands in the kernel (`applyT_kerBwd`) and both maps are additive and homogeneous
  (`kerBwd_add`, `kerBwd_smul`; for `kerFwd` by definition). A space of functions
  `Fin (m-1) → Fin d → K` has dimension `(m-1) d`;
* through the index equivalence `Fin (m-1) × Fin d ≃ Fin ((m-1) * d)` of `NLPT.FinProd`
  (`flatten`, `unflatten`), the kernel is linearly isomorphic to `Fin ((m-1) * d) → K`
  (`ker_equiv_flat`, the seven conditions collected in `IsFlatKerEquiv`).

The statements are first proved for `Fin (n+1)` (so `m - 1 = n` without subtraction) and then
restated for any `m`.
-/

namespace NLPT

universe u

variable {K : Type u} [Field K]

/-- `T_a V = fun k => Σ_j a_j V_jk`, the map `W ↦ Wᵀ a` in coordinates. -/
def applyT {m d : Nat} (a : Fin m → K) (V : Fin m → Fin d → K) (k : Fin d) : K :=
  sum (fun j => a j * V j k)

/-- `V` lies in the kernel of `T_a`. -/
def InKer {m d : Nat} (a : Fin m → K) (V : Fin m → Fin d → K) : Prop :=
  ∀ k, applyT a V k = 0

/-- Forget the pivot row: the rows of `V` other than row `p`, in order. -/
def kerFwd {n d : Nat} (p : Fin (n + 1)) (V : Fin (n + 1) → Fin d → K) (i : Fin n) (k : Fin d) :
    K :=
  V (skip p i) k

/-- Rebuild the pivot row: `V_p = -(a_p)⁻¹ Σ_i a_(skip p i) W_i`, the other rows from `W`. -/
def kerBwd {n d : Nat} (a : Fin (n + 1) → K) (p : Fin (n + 1)) (W : Fin n → Fin d → K)
    (j : Fin (n + 1)) (k : Fin d) : K :=
  if h : j = p then -((a p)⁻¹ * sum (fun i => a (skip p i) * W i k)) else W (unskip p j h) k

private theorem kerBwd_pivot {n d : Nat} {a : Fin (n + 1) → K} {p : Fin (n + 1)}
    {W : Fin n → Fin d → K} {k : Fin d} :
    kerBwd a p W p k = -((a p)⁻¹ * sum (fun i => a (skip p i) * W i k)) := by
  unfold kerBwd
  exact dif_pos rfl

private theorem kerBwd_of_ne {n d : Nat} {a : Fin (n + 1) → K} {p j : Fin (n + 1)}
    {W : Fin n → Fin d → K} {k : Fin d} (h : j ≠ p) :
    kerBwd a p W j k = W (unskip p j h) k := by
  unfold kerBwd
  exact dif_neg h

/-- `T_a` is onto `Fin d → K` as soon as some `a p ≠ 0`: its rank is `d`. -/
theorem applyT_surjective {m d : Nat} (a : Fin m → K) (p : Fin m) (hp : a p ≠ 0)
    (w : Fin d → K) : ∃ V : Fin m → Fin d → K, ∀ k, applyT a V k = w k := by
  cases m with
  | zero => exact absurd p.isLt (by omega)
  | succ n =>
    refine ⟨fun j k => if j = p then (a p)⁻¹ * w k else 0, fun k => ?_⟩
    show sum (fun j => a j * (if j = p then (a p)⁻¹ * w k else 0)) = w k
    rw [sum_skip p (fun j => a j * (if j = p then (a p)⁻¹ * w k else 0))]
    show a p * (if p = p then (a p)⁻¹ * w k else 0) +
        sum (fun i => a (skip p i) * (if skip p i = p then (a p)⁻¹ * w k else 0)) = w k
    rw [if_pos (rfl : p = p)]
    have h0 : sum (fun i => a (skip p i) * (if skip p i = p then (a p)⁻¹ * w k else 0)) = 0 :=
      sum_eq_zero _ (fun i => by
        show a (skip p i) * (if skip p i = p then (a p)⁻¹ * w k else 0) = 0
        rw [if_neg (skip_ne p i), Field.mul_zero])
    rw [h0, Field.add_zero (a p * ((a p)⁻¹ * w k)), ← Field.mul_assoc (a p) (a p)⁻¹ (w k),
      Field.mul_inv_cancel (a p) hp, Field.one_mul (w k)]

/-- `kerBwd` lands in the kernel of `T_a`. -/
theorem applyT_kerBwd {n d : Nat} {a : Fin (n + 1) → K} {p : Fin (n + 1)} (hp : a p ≠ 0)
    (W : Fin n → Fin d → K) : InKer a (kerBwd a p W) := by
  intro k
  show sum (fun j => a j * kerBwd a p W j k) = 0
  rw [sum_skip p (fun j => a j * kerBwd a p W j k)]
  show a p * kerBwd a p W p k + sum (fun i => a (skip p i) * kerBwd a p W (skip p i) k) = 0
  rw [kerBwd_pivot]
  have hs : sum (fun i => a (skip p i) * kerBwd a p W (skip p i) k) =
      sum (fun i => a (skip p i) * W i k) :=
    sum_congr (fun i => by
      show a (skip p i) * kerBwd a p W (skip p i) k = a (skip p i) * W i k
      rw [kerBwd_of_ne (skip_ne p i), unskip_skip])
  rw [hs, Field.mul_neg (a p) ((a p)⁻¹ * sum (fun i => a (skip p i) * W i k)),
    ← Field.mul_assoc (a p) (a p)⁻¹ (sum (fun i => a (skip p i) * W i k)),
    Field.mul_inv_cancel (a p) hp, Field.one_mul (sum (fun i => a (skip p i) * W i k)),
    Field.neg_add_cancel (sum (fun i => a (skip p i) * W i k))]

/-- Round trip on the coordinate side: `kerFwd (kerBwd W) = W`. -/
theorem kerFwd_kerBwd {n d : Nat} (a : Fin (n + 1) → K) (p : Fin (n + 1))
    (W : Fin n → Fin d → K) : kerFwd p (kerBwd a p W) = W := by
  funext i k
  show kerBwd a p W (skip p i) k = W i k
  rw [kerBwd_of_ne (skip_ne p i), unskip_skip]

/-- Round trip on the kernel side: `kerBwd (kerFwd V) = V` for every `V` with `T_a V = 0`. -/
theorem kerBwd_kerFwd {n d : Nat} {a : Fin (n + 1) → K} {p : Fin (n + 1)} (hp : a p ≠ 0)
    {V : Fin (n + 1) → Fin d → K} (hV : InKer a V) : kerBwd a p (kerFwd p V) = V := by
  funext j k
  by_cases hj : j = p
  · rw [hj, kerBwd_pivot]
    have h0 : a p * V p k + sum (fun i => a (skip p i) * V (skip p i) k) = 0 := by
      have h := hV k
      unfold applyT at h
      rw [sum_skip p] at h
      exact h
    have h1 : sum (fun i => a (skip p i) * V (skip p i) k) = -(a p * V p k) :=
      Field.eq_neg_of_add_eq_zero
        ((Field.add_comm (sum (fun i => a (skip p i) * V (skip p i) k)) (a p * V p k)).trans h0)
    have hS : sum (fun i => a (skip p i) * kerFwd p V i k) =
        sum (fun i => a (skip p i) * V (skip p i) k) := rfl
    rw [hS, h1, Field.mul_neg (a p)⁻¹ (a p * V p k), Field.neg_neg ((a p)⁻¹ * (a p * V p k)),
      ← Field.mul_assoc (a p)⁻¹ (a p) (V p k), Field.inv_mul_cancel hp, Field.one_mul (V p k)]
  · rw [kerBwd_of_ne hj]
    show V (skip p (unskip p j hj)) k = V j k
    rw [skip_unskip]

/-- `kerBwd` is additive. -/
theorem kerBwd_add {n d : Nat} (a : Fin (n + 1) → K) (p : Fin (n + 1))
    (W W' : Fin n → Fin d → K) :
    kerBwd a p (fun i k => W i k + W' i k) = fun j k => kerBwd a p W j k + kerBwd a p W' j k := by
  funext j k
  show kerBwd a p (fun i k => W i k + W' i k) j k = kerBwd a p W j k + kerBwd a p W' j k
  by_cases hj : j = p
  · rw [hj, kerBwd_pivot, kerBwd_pivot, kerBwd_pivot]
    have hs : sum (fun i => a (skip p i) * (W i k + W' i k)) =
        sum (fun i => a (skip p i) * W i k) + sum (fun i => a (skip p i) * W' i k) := by
      rw [← sum_add]
      exact sum_congr (fun i => Field.mul_add _ _ _)
    rw [hs, Field.mul_add (a p)⁻¹ (sum (fun i => a (skip p i) * W i k))
        (sum (fun i => a (skip p i) * W' i k)),
      Field.neg_add ((a p)⁻¹ * sum (fun i => a (skip p i) * W i k))
        ((a p)⁻¹ * sum (fun i => a (skip p i) * W' i k))]
  · rw [kerBwd_of_ne hj, kerBwd_of_ne hj, kerBwd_of_ne hj]

/-- `kerBwd` is homogeneous. -/
theorem kerBwd_smul {n d : Nat} (a : Fin (n + 1) → K) (p : Fin (n + 1)) (c : K)
    (W : Fin n → Fin d → K) :
    kerBwd a p (fun i k => c * W i k) = fun j k => c * kerBwd a p W j k := by
  funext j k
  show kerBwd a p (fun i k => c * W i k) j k = c * kerBwd a p W j k
  by_cases hj : j = p
  · rw [hj, kerBwd_pivot, kerBwd_pivot]
    have hs : sum (fun i => a (skip p i) * (c * W i k)) =
        c * sum (fun i => a (skip p i) * W i k) := by
      rw [← sum_mul_left]
      exact sum_congr (fun i => Field.mul_left_comm _ _ _)
    rw [hs, Field.mul_neg c ((a p)⁻¹ * sum (fun i => a (skip p i) * W i k)),
      Field.mul_left_comm (a p)⁻¹ c (sum (fun i => a (skip p i) * W i k))]
  · rw [kerBwd_of_ne hj, kerBwd_of_ne hj]

/-- `f` and `g` are mutually inverse linear maps between `ker T_a ⊆ (Fin m → Fin d → K)` and
`Fin r → Fin d → K`: `g` lands in the kernel, both round trips hold (the one through `f` first
on the kernel), and both maps are additive and homogeneous. -/
structure IsKerEquiv {m r d : Nat} (a : Fin m → K)
    (f : (Fin m → Fin d → K) → (Fin r → Fin d → K))
    (g : (Fin r → Fin d → K) → (Fin m → Fin d → K)) : Prop where
  map_ker : ∀ W : Fin r → Fin d → K, InKer a (g W)
  fwd_bwd : ∀ W : Fin r → Fin d → K, f (g W) = W
  bwd_fwd : ∀ V : Fin m → Fin d → K, InKer a V → g (f V) = V
  fwd_add : ∀ V V' : Fin m → Fin d → K,
    f (fun j k => V j k + V' j k) = fun i k => f V i k + f V' i k
  fwd_smul : ∀ (c : K) (V : Fin m → Fin d → K),
    f (fun j k => c * V j k) = fun i k => c * f V i k
  bwd_add : ∀ W W' : Fin r → Fin d → K,
    g (fun i k => W i k + W' i k) = fun j k => g W j k + g W' j k
  bwd_smul : ∀ (c : K) (W : Fin r → Fin d → K),
    g (fun i k => c * W i k) = fun j k => c * g W j k

/-- The kernel of `T_a` on `Fin (n+1) → Fin d → K` is linearly isomorphic to
`Fin n → Fin d → K`, for any pivot `p` with `a p ≠ 0`, through `kerFwd p` and `kerBwd a p`. -/
theorem ker_equiv_pivot {n d : Nat} (a : Fin (n + 1) → K) (p : Fin (n + 1)) (hp : a p ≠ 0) :
    ∃ (f : (Fin (n + 1) → Fin d → K) → (Fin n → Fin d → K))
      (g : (Fin n → Fin d → K) → (Fin (n + 1) → Fin d → K)), IsKerEquiv a f g :=
  ⟨kerFwd p, kerBwd a p,
    { map_ker := fun W => applyT_kerBwd hp W,
      fwd_bwd := fun W => kerFwd_kerBwd a p W,
      bwd_fwd := fun _ hV => kerBwd_kerFwd hp hV,
      fwd_add := fun _ _ => rfl,
      fwd_smul := fun _ _ => rfl,
      bwd_add := fun W W' => kerBwd_add a p W W',
      bwd_smul := fun c W => kerBwd_smul a p c W }⟩

/-- Transport of a kernel isomorphism along an equality `r = s` of coordinate widths (used to
pass from `Fin n` to `Fin (m - 1)` without relying on `n + 1 - 1` reducing to `n`). -/
private theorem isKerEquiv_of_eq {m r s d : Nat} (a : Fin m → K) (h : r = s)
    (H : ∃ (f : (Fin m → Fin d → K) → (Fin s → Fin d → K))
      (g : (Fin s → Fin d → K) → (Fin m → Fin d → K)), IsKerEquiv a f g) :
    ∃ (f : (Fin m → Fin d → K) → (Fin r → Fin d → K))
      (g : (Fin r → Fin d → K) → (Fin m → Fin d → K)), IsKerEquiv a f g := by
  subst h
  exact H

/-- Paper statement (kernel dimension `(m-1) d`): for `a : Fin m → K` with some `a p ≠ 0`, the
kernel `{V : Σ_j a_j V_j = 0}` of `T_a` is linearly isomorphic to `Fin (m-1) → Fin d → K`. -/
theorem ker_equiv_fin_pred {m d : Nat} (a : Fin m → K) (p : Fin m) (hp : a p ≠ 0) :
    ∃ (f : (Fin m → Fin d → K) → (Fin (m - 1) → Fin d → K))
      (g : (Fin (m - 1) → Fin d → K) → (Fin m → Fin d → K)), IsKerEquiv a f g := by
  cases m with
  | zero => exact absurd p.isLt (by omega)
  | succ n =>
    have e : n + 1 - 1 = n := by omega
    exact isKerEquiv_of_eq a e (ker_equiv_pivot a p hp)

/-- `ker_equiv_fin_pred` over the rationals. -/
theorem ker_equiv_fin_pred_rat {m d : Nat} (a : Fin m → Rat) (p : Fin m) (hp : a p ≠ 0) :
    ∃ (f : (Fin m → Fin d → Rat) → (Fin (m - 1) → Fin d → Rat))
      (g : (Fin (m - 1) → Fin d → Rat) → (Fin m → Fin d → Rat)), IsKerEquiv a f g :=
  ker_equiv_fin_pred a p hp

/-- `applyT_surjective` over the rationals. -/
theorem applyT_surjective_rat {m d : Nat} (a : Fin m → Rat) (p : Fin m) (hp : a p ≠ 0)
    (w : Fin d → Rat) : ∃ V : Fin m → Fin d → Rat, ∀ k, applyT a V k = w k :=
  applyT_surjective a p hp w

/-! ## Flat coordinates: `ker T_a ≅ Fin ((m-1) * d) → K` -/

/-- `f` and `g` are mutually inverse linear maps between `ker T_a ⊆ (Fin m → Fin d → K)` and
the flat coordinate space `Fin n → K`: `g` lands in the kernel, both round trips hold (the one
through `f` first on the kernel), and both maps are additive and homogeneous. -/
structure IsFlatKerEquiv {m d n : Nat} (a : Fin m → K)
    (f : (Fin m → Fin d → K) → (Fin n → K))
    (g : (Fin n → K) → (Fin m → Fin d → K)) : Prop where
  map_ker : ∀ x : Fin n → K, InKer a (g x)
  fwd_bwd : ∀ x : Fin n → K, f (g x) = x
  bwd_fwd : ∀ V : Fin m → Fin d → K, InKer a V → g (f V) = V
  fwd_add : ∀ V V' : Fin m → Fin d → K,
    f (fun j k => V j k + V' j k) = fun i => f V i + f V' i
  fwd_smul : ∀ (c : K) (V : Fin m → Fin d → K),
    f (fun j k => c * V j k) = fun i => c * f V i
  bwd_add : ∀ x x' : Fin n → K,
    g (fun i => x i + x' i) = fun j k => g x j k + g x' j k
  bwd_smul : ∀ (c : K) (x : Fin n → K),
    g (fun i => c * x i) = fun j k => c * g x j k

/-- Composing a kernel isomorphism onto `Fin r → Fin d → K` with `flatten`/`unflatten` gives a
kernel isomorphism onto `Fin (r * d) → K`. -/
private theorem isFlatKerEquiv_of_isKerEquiv {m r d : Nat} {a : Fin m → K}
    {f : (Fin m → Fin d → K) → (Fin r → Fin d → K)}
    {g : (Fin r → Fin d → K) → (Fin m → Fin d → K)} (H : IsKerEquiv a f g) :
    IsFlatKerEquiv a (fun V => flatten (f V)) (fun x => g (unflatten x)) := by
  refine ⟨?_, ?_, ?_, ?_, ?_, ?_, ?_⟩
  · intro x
    exact H.map_ker (unflatten x)
  · intro x
    show flatten (f (g (unflatten x))) = x
    rw [H.fwd_bwd (unflatten x), flatten_unflatten x]
  · intro V hV
    show g (unflatten (flatten (f V))) = V
    rw [unflatten_flatten (f V)]
    exact H.bwd_fwd V hV
  · intro V V'
    show flatten (f (fun j k => V j k + V' j k)) = fun i => flatten (f V) i + flatten (f V') i
    rw [H.fwd_add V V']
    exact flatten_add (f V) (f V')
  · intro c V
    show flatten (f (fun j k => c * V j k)) = fun i => c * flatten (f V) i
    rw [H.fwd_smul c V]
    exact flatten_smul c (f V)
  · intro x x'
    show g (unflatten (fun i => x i + x' i)) =
      fun j k => g (unflatten x) j k + g (unflatten x') j k
    rw [unflatten_add x x']
    exact H.bwd_add (unflatten x) (unflatten x')
  · intro c x
    show g (unflatten (fun i => c * x i)) = fun j k => c * g (unflatten x) j k
    rw [unflatten_smul c x]
    exact H.bwd_smul c (unflatten x)

/-- Paper statement (kernel dimension `(m-1) d`, in flat coordinates): for `a : Fin m → K` with
some `a p ≠ 0` (any pivot `p`), the kernel `{V : Σ_j a_j V_j = 0}` of `T_a` is linearly
isomorphic to `Fin ((m-1) * d) → K`, i.e. to `K^((m-1) d)`. The maps are those of
`ker_equiv_fin_pred` composed with `flatten` and `unflatten`. -/
theorem ker_equiv_flat {m d : Nat} (a : Fin m → K) (p : Fin m) (hp : a p ≠ 0) :
    ∃ (f : (Fin m → Fin d → K) → (Fin ((m - 1) * d) → K))
      (g : (Fin ((m - 1) * d) → K) → (Fin m → Fin d → K)), IsFlatKerEquiv a f g := by
  cases ker_equiv_fin_pred (d := d) a p hp with
  | intro f hf =>
    cases hf with
    | intro g H =>
      exact ⟨fun V => flatten (f V), fun x => g (unflatten x), isFlatKerEquiv_of_isKerEquiv H⟩

/-- `ker_equiv_flat` over the rationals. -/
theorem ker_equiv_flat_rat {m d : Nat} (a : Fin m → Rat) (p : Fin m) (hp : a p ≠ 0) :
    ∃ (f : (Fin m → Fin d → Rat) → (Fin ((m - 1) * d) → Rat))
      (g : (Fin ((m - 1) * d) → Rat) → (Fin m → Fin d → Rat)), IsFlatKerEquiv a f g :=
  ker_equiv_flat a p hp

end NLPT
