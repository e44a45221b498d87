"""Container images for a workload: plan (plan.py), base choice (bases.py), locking
(lock.py), build context (context.py), format-neutral steps (steps.py, blocks.py,
recipe.py) and renderers (render/). Building, exporting and pushing: build.py, export.py."""
