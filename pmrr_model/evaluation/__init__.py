"""Ground-truth evaluation of the pipeline: synthetic scenes with known bodies
(:mod:`pmrr_model.evaluation.scenes`) and the metrics that compare the pipeline's tables with
them (:mod:`pmrr_model.evaluation.metrics`). The benchmark that runs both is
``benchmarks/accuracy.py`` (``pmrr eval --synthetic``)."""
