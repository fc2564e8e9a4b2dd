"""The PMRR network: backbone, feature pyramid, mesh-aligned features, iterative regressors."""

from pmrr_model.network.pmrr import PMRR, PMRROutput, SMPLPrediction, build_pmrr

__all__ = ["PMRR", "PMRROutput", "SMPLPrediction", "build_pmrr"]
