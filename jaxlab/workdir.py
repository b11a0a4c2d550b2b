from jaxlab.experiment.workdir import *  # noqa  (temporary shim during the restructure)
from jaxlab.experiment.workdir import _atomic_write_json, environment, to_jsonable  # noqa
