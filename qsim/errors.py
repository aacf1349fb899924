"""qsim's exceptions and warnings: every user mistake becomes one of these, never a traceback."""


class QsimError(Exception):
    """Base class: the CLI prints these as one clean message and exits with status 2."""


class KernelArgumentError(QsimError, ValueError):
    """A kernel argument the C would reject (ARM_MATH_SIZE_MISMATCH) or that is undefined in C."""


class ShapeError(QsimError, ValueError):
    """An array whose shape or size does not match what the function or layer expects."""


class UnsupportedOpError(QsimError):
    """An op, attribute or geometry qsim (or the chosen CMSIS-NN path) cannot run."""


class CalibrationError(QsimError):
    """Calibration data missing, empty or of the wrong shape."""


class QuantizationError(QsimError):
    """No legal fixed-point format or shift for a tensor or layer."""


class ModelFormatError(QsimError):
    """A model file that is not what it claims to be (not ONNX, truncated, NaN weights...)."""


class CmsisNotFound(QsimError):
    """No usable CMSIS_5 checkout at CMSIS_PATH / --cmsis."""


class CmsisFetchError(CmsisNotFound):
    """`qsim fetch-cmsis` could not download, verify or unpack a CMSIS_5 release archive."""


class BuildError(QsimError):
    """Compiling C (CMSIS-NN, generated code, harness) failed."""


class ToolchainMissing(QsimError):
    """A required external program (gcc, arm-none-eabi-gcc, qemu-system-arm, espeak-ng) is absent."""


class AudioError(QsimError):
    """An audio file that cannot be read, is empty, or cannot be converted to 16 kHz mono int16."""


class DatasetError(AudioError):
    """A dataset folder that breaks its layout (Speech Commands: word folders of 16 kHz mono WAVs)."""


class OutputExistsError(QsimError):
    """An output file or folder exists and force (--force) was not given."""


class DataFileError(QsimError):
    """A data or label file that cannot be read as a numeric .npy array, or holds NaN/Inf."""


class OutputPathError(QsimError):
    """An output path that cannot be written, or that is, holds or lies inside an input."""


class ArgumentError(QsimError, ValueError):
    """A count, seed or hyper-parameter outside its sane range (negative, zero, NaN, Inf...)."""


class ResourceLimitError(QsimError):
    """A command would need more memory than is available; raised before allocating it."""


class SaturationWarning(UserWarning):
    """Values were clipped to the representable range of a fixed-point format."""


class QuantizationWarning(UserWarning):
    """A quantization choice was forced (a format clamped, a bias made coarser) to keep shifts legal."""


class CHeaderError(QsimError, ValueError):
    """A C header (weights, shifts) or import spec that `qsim import-c` cannot read as stated."""
