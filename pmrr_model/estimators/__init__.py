"""Estimators: the PMRR network and the offline landmark fit behind one interface."""

from pmrr_model.estimators.base import BodyEstimates, Estimator

__all__ = ["BodyEstimates", "Estimator"]
