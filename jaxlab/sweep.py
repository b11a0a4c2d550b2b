from jaxlab.experiment.sweep import *  # noqa  (temporary shim)
from jaxlab.experiment.sweep import SWEEP_LOG, ProcessPoolRunner, SerialRunner, SweepError, expand_grid, point_id, read_log, run_sweep  # noqa
