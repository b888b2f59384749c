"""Tags (标签化管理): named rules over a customer, with groups, priorities and tag-of-tag references."""

from user_ops.tags._defaults import METRIC_FIELDS, default_tags
from user_ops.tags._tagset import TagExplanation, TagRule, TagSet, TagTable

__all__ = ["METRIC_FIELDS", "TagExplanation", "TagRule", "TagSet", "TagTable", "default_tags"]
