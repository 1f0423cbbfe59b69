# Shortcuts; the scripts they run are the source of truth.
.PHONY: test docs

# The README's test command. It checks docs/compatibility.md and
# docs/reliability.md against its own results and leaves the tree as it
# found it.
test:
	bash test/run.sh

# The same run, writing both documents from its results instead of
# checking them; commit what changed.
docs:
	CREDD_WRITE_DOCS=1 bash test/run.sh
