"""Resource bounds, in one place, each with the reason for it.

The hosted demo runs on 2 shared CPU cores with about 2.7 GB of RAM for many students at once,
so every input a user controls is bounded here. The app's sliders, the upload check and the CLI
all read these numbers; nothing else hard-codes them.
"""

import os


def _trainings_at_once() -> int:
    """MAKEMORE_TRAININGS, for a server with more cores than the hosted demo's two (a classroom
    machine): one training a core. Anything but a whole number from 1 to 64 keeps the default."""
    text = os.environ.get("MAKEMORE_TRAININGS", "")
    return int(text) if text.isdigit() and 1 <= int(text) <= 64 else 2


# --- word lists -------------------------------------------------------------------------------
# A word list is tiny next to its tensors: at block size 10 every character becomes a row of 10
# int64 ids (80 bytes), so the caps below bound the examples a dataset can produce.
MAX_FILE_BYTES = 2_000_000  # 2 MB: ten times the lecture's names.txt (228 kB); uploads beyond are refused
MAX_WORDS = 50_000  # names.txt has 32,033; more makes every epoch slower without teaching more
MIN_WORDS = 10  # fewer cannot be split 80/10/10 with a word left in each split
MAX_WORD_LEN = 32  # longer "words" are sentences; generation also stops at this length
MAX_TOTAL_CHARS = 500_000  # bounds the (context, next char) pairs: ~550k rows, ~45 MB at block size 10
MAX_VOCAB = 64  # distinct characters; beyond this it is not one "alphabet" any more

# --- training ---------------------------------------------------------------------------------
MAX_STEPS = 200_000  # the lectures' longest recipe; the app's sliders stay far below it
MAX_BATCH_SIZE = 65_536  # a batch bigger than this is the full train split anyway
MAX_LR = 100.0  # the first lecture's full-batch neural bigram uses a learning rate of 50
MAX_SAMPLES = 200  # samples drawn at once (app and CLI)
MAX_SEED = 2**31 - 1  # the largest int32: a seed any RNG and any JavaScript number input takes

# --- model sizes (MLP and later stages) --------------------------------------------------------
MAX_BLOCK_SIZE = 10  # context characters; names average 6 letters, so more adds little but inputs
MAX_N_EMBD = 32  # embedding size: 27 characters need far fewer dimensions than this
MAX_N_HIDDEN = 512  # hidden width: more overfits names.txt and slows every step
MAX_N_LAYERS = 8  # hidden layers (lecture 3's deep net has 5): enough to see activations vanish
# Whole-word models (RNN, GRU, Transformer) embed one character per position, not a window of them
# joined: makemore.py's references use 64, so their embeddings may be twice the MLP's.
MAX_SEQUENCE_N_EMBD = 64
MAX_RECURRENT_LAYERS = 2  # two stacked layers already model names as well as one wider layer
# The Transformer: 64 dimensions reach the best losses on names; 128 is room to watch it overfit.
MAX_N_EMBD_TRANSFORMER = 128
MAX_N_BLOCKS = 6  # blocks of attention + MLP; 4 is best on names, more only costs time
MAX_N_HEAD = 8  # heads per attention layer
MAX_DROPOUT = 0.5  # more than this throws away most of the signal
# The app refuses a run whose estimated time on 2 CPU cores is above this, so no combination of
# sliders can hold a server core for long (the lecture's 200k-step MLP recipe, ~130 s, fits).
MAX_TRAIN_SECONDS = 300
MAX_CONCURRENT_TRAININGS = _trainings_at_once()  # background trainings at once: one per CPU core (2)
TRAINING_THREADS = 1  # torch threads per background training (each gets a core; see makemore/serving/jobs.py)
ABANDONED_AFTER_SECONDS = 20  # a live training nobody has watched for this long is stopped
# A background training running this long is ended, whatever its estimate said: twice the longest
# run the app starts, so only a stuck or far-too-slow one (a server much busier than expected) ends.
TRAINING_TIME_LIMIT = 2 * MAX_TRAIN_SECONDS

# --- trained-model files -----------------------------------------------------------------------
# The largest model the sliders allow (8 x 512 BatchNorm MLP) is ~8 MB of weights; with its history
# and training words a file stays below this. A bigger upload or file is refused before it is read.
MAX_CHECKPOINT_BYTES = 16_000_000

# --- caching ----------------------------------------------------------------------------------
MEMORY_CACHE_ENTRIES = 32  # trained models kept in the server's memory (each is small)
DISK_CACHE_FILES = 256  # trained models kept on disk; the oldest are removed first
# Word lists kept in the server's memory, built in or uploaded: each is at most MAX_FILE_BYTES of
# text plus its example tensors (tens of MB at most), so a few of them bound the memory uploads use.
MEMORY_DATASETS = 8

# --- class rooms (makemore/rooms) ----------------------------------------------------------------
MAX_ROOMS = 200  # open rooms per server: a school's term of classes; a closed or expired room frees its place
MAX_MEMBERS = 100  # students per room: a lecture hall's section; the board stays readable
MAX_RUNS_PER_MEMBER = 200  # a lesson's worth of trainings; past this a student's runs stop being posted
MAX_CHALLENGES = 20  # challenges a teacher adds to a room
MAX_NICKNAME_CHARS = 24
MAX_TITLE_CHARS = 80
ROOM_DAYS = 30  # a room's code stops working this many days after it was opened
MAX_POLLS = 100  # "predict, then train" polls a room keeps: several a lesson over a term of lessons
# A predicted val loss: a uniform guess on 27 characters is 3.30 and a diverged run a little more, so
# 10 leaves room for any honest guess while a typo (22 for 2.2) is refused, not plotted off the chart.
MIN_PREDICTION = 0.0
MAX_PREDICTION = 10.0
