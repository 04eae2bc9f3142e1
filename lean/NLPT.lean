import NLPT.Algebra
import NLPT.FinProd
import NLPT.KernelDim
import NLPT.GaussNewton
import NLPT.Floor
import NLPT.Threshold
import NLPT.NormalForm
import NLPT.Symmetry

/-!
# NLPT — formal layer of `nlpt`

The algebraic statements of *The Non-Linearity Perturbation Threshold: Width Scaling and
Landscape Bifurcations in Deep Learning* (arXiv 2604.01334), as formulated in the project's
SPEC (sections 6 and 7), proved over an abstract field (ordered where signs matter) and instantiated
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
  transcritical normal forms;
* `NLPT.Symmetry` — the symmetry reduction for uniform `a` (SPEC section 7): `(H V)_j = A V_j +
  B Σ_k V_k` acts as `A` on `q ⊗ u` with `Σ q = 0` and as `A + m B` on `1 ⊗ u`, every `V` splits
  into a part in `ker T_1` and `1 ⊗ mean V`, and `L_{m,α}(1 uᵀ) = L_{1,α m}(u)`.
-/
