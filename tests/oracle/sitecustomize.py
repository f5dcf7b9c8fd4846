"""Start the hindsight oracle before the main script when HINDSIGHT_ORACLE_OUT is set.

Python imports `sitecustomize` during start-up (module `site`), before the main
script's first instruction and without leaving a frame under it, which is why
the oracle is started from here rather than by a wrapper script.
"""

import os

if os.environ.get("HINDSIGHT_ORACLE_OUT"):
    import hindsight_oracle

    hindsight_oracle.install(os.environ["HINDSIGHT_ORACLE_OUT"])
