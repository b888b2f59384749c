# Developer shortcuts; the README's two commands need none of these.
.PHONY: test bench docs

test:
	python -m pytest

# Benchmarks are not timed tests: they print figures for docs/performance.md.
bench:
	python benchmarks/bench_rules.py
	python benchmarks/bench_table.py
	python benchmarks/bench_rfm.py
	python benchmarks/bench_metrics.py
	python benchmarks/bench_lifecycle.py
	python benchmarks/bench_bgnbd.py
	python benchmarks/bench_membership.py
	python benchmarks/bench_coupons.py
	python benchmarks/bench_import.py

docs:
	mkdocs build --strict
