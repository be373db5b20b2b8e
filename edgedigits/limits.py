"""Upper bounds on values that could exhaust the machine (memory, processes, hours of scheduled work).

Shared by the CLI's option types, the runtime API and the sweeps, so each bound is said once and every message
names it. They are far above any useful setting on the CPUs these models are for.
"""

MAX_THREADS = 256  # onnxruntime intra-op threads: each reserves a stack, and more than the cores only slows runs
MAX_WORKERS = 64  # local worker processes of a sweep (each loads TensorFlow: ~0.5 GB)
MAX_FOLDS = 20  # cross-validation folds
MAX_TRIALS = 1000  # trials of one sweep (cells x folds): each trains a model
MAX_RUNS = 1_000_000  # timed runs per model
MAX_BATCH = 65_536  # images per batch
MAX_SECONDS = 3600.0  # measuring time per model and target
MAX_FRAMES = 10**9  # webcam --max-frames
MAX_CLASSES = 1000
RAY_CONNECT_TIMEOUT_S = 5.0  # an unreachable Ray address fails after this long, not after minutes

# What edgedigits reads (docs/limits.md says each and what happens past it)
MAX_IMAGE_BYTES = 256 * 2**20  # an image file larger than this is refused before any byte of it is read
MAX_IMAGE_PIXELS = 40_000_000  # decoded pixels of one image or frame: a larger JPEG is decoded at 1/2, 1/4 or 1/8
MAX_MODEL_BYTES = 2 * 2**30  # an ONNX file (protobuf's own limit); larger files in a shipped set are not models
MAX_DATA_BYTES = 2 * 2**30  # one dataset file (IDX, .npz), read or decompressed: MNIST's largest is 47 MB
MAX_MARKS = 1000  # ink marks of one image compared pairwise to find digits: the tallest are kept
MAX_CAMERA_INDEX = 9_999  # OpenCV camera indices (index + 100 x API preference); larger is not a camera
MAX_RECIPE_BYTES = 1 * 2**20  # a recipe file (.toml); its tables nest at most MAX_RECIPE_DEPTH deep
MAX_RECIPE_DEPTH = 32
MAX_LABEL_CHARS = 64  # one class label of a model's metadata
MAX_MESSAGE_CHARS = 400  # one error line: a longer message is cut, never printed whole
