import NLPT

/-!
# Axiom audit of the headline theorems

Run with `lake env lean lean/Audit.lean` after `lake build`. Every line must report only Lean's
standard axioms (`propext`, `Classical.choice`, `Quot.sound`) or none at all.
-/

-- KernelDim
#print axioms NLPT.applyT_surjective
#print axioms NLPT.applyT_kerBwd
#print axioms NLPT.kerFwd_kerBwd
#print axioms NLPT.kerBwd_kerFwd
#print axioms NLPT.kerBwd_add
#print axioms NLPT.kerBwd_smul
#print axioms NLPT.ker_equiv_pivot
#print axioms NLPT.ker_equiv_fin_pred
#print axioms NLPT.ker_equiv_fin_pred_rat
#print axioms NLPT.applyT_surjective_rat
#print axioms NLPT.ker_equiv_flat
#print axioms NLPT.ker_equiv_flat_rat

-- GaussNewton
#print axioms NLPT.gaussNewton_eq_zero_iff
#print axioms NLPT.gaussNewton_eq_zero_iff_rat

-- Floor
#print axioms NLPT.qform_shiftId
#print axioms NLPT.floor_le_qform
#print axioms NLPT.qform_shiftId_eq_iff
#print axioms NLPT.qform_shiftId_of_ker
#print axioms NLPT.rayleigh_shiftId_of_ker
#print axioms NLPT.floor_le_qform_rat
#print axioms NLPT.rayleigh_shiftId_of_ker_rat

-- Threshold
#print axioms NLPT.softening_eq_zero_iff
#print axioms NLPT.threshold_pos
#print axioms NLPT.threshold_le_one_iff
#print axioms NLPT.threshold_width_eq
#print axioms NLPT.threshold_width_strictMono
#print axioms NLPT.softening_eq_zero_iff_rat
#print axioms NLPT.threshold_le_one_iff_rat
#print axioms NLPT.threshold_width_eq_rat
#print axioms NLPT.threshold_width_strictMono_rat

-- NormalForm
#print axioms NLPT.quadratic_coeff_eq_zero_of_odd
#print axioms NLPT.pitchfork_root_sq
#print axioms NLPT.transcritical_root
#print axioms NLPT.quadratic_coeff_eq_zero_of_odd_rat
#print axioms NLPT.pitchfork_root_sq_rat
#print axioms NLPT.transcritical_root_rat

-- Symmetry
#print axioms NLPT.symOp_tensor_of_sum_zero
#print axioms NLPT.symOp_ones_tensor
#print axioms NLPT.centered_add_mean
#print axioms NLPT.centered_inKer
#print axioms NLPT.eq_zero_of_ones_tensor_inKer
#print axioms NLPT.loss_ones_tensor
#print axioms NLPT.loss_width_eq
#print axioms NLPT.loss_ones_tensor_eq_of_mul_eq
#print axioms NLPT.symOp_tensor_of_sum_zero_rat
#print axioms NLPT.symOp_ones_tensor_rat
#print axioms NLPT.centered_add_mean_rat
#print axioms NLPT.centered_inKer_rat
#print axioms NLPT.eq_zero_of_ones_tensor_inKer_rat
#print axioms NLPT.loss_ones_tensor_rat
#print axioms NLPT.loss_width_eq_rat
#print axioms NLPT.loss_ones_tensor_eq_of_mul_eq_rat
