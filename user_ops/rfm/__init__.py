"""RFM (用户基础数据分析): score recency, frequency and monetary value; name segments; measure 二八.

``RFMModel`` scores customers by quantile, business thresholds or the population mean, and names
them with a segment map (the classic RF grid, the Chinese 8 classes, PyMC-Marketing's five, or your
own rules). ``segment_summary`` and ``pareto`` describe the result. See ``docs/rfm.md``.

Examples
--------
>>> from user_ops.datasets import synthetic_customers
>>> from user_ops.rfm import RFMModel
>>> customers = synthetic_customers(500)
>>> model = RFMModel.quantile(bins=5).fit(customers)
>>> model.score(customers).columns
('customer_id', 'r', 'f', 'm', 'rfm_code', 'segment', 'segment_en', 'segment_zh')
"""

from user_ops.rfm._model import RFMModel, RFMScore, RFMScores
from user_ops.rfm._partitioned import fit_partitioned
from user_ops.rfm._segments import NEVER_BOUGHT, SCORE_FIELDS, Segment, SegmentMap
from user_ops.rfm._summary import ParetoResult, pareto, segment_summary

__all__ = [
    "NEVER_BOUGHT",
    "SCORE_FIELDS",
    "ParetoResult",
    "RFMModel",
    "RFMScore",
    "RFMScores",
    "Segment",
    "SegmentMap",
    "fit_partitioned",
    "pareto",
    "segment_summary",
]
