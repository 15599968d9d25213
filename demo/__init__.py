"""The demo dataset, in its own room above the workflow: the published figures it is calibrated on
(`demo.published`, reference data for the notebooks and tests), the calibration (`demo.calibration`), the
generator that drives the real commands (`demo.generator`, with `demo.plan`, `demo.elections`, `demo.recording`)
and the summary `jejak demo` prints (`demo.summary`)."""
