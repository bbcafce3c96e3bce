"""Datasets and input pipeline: registry, list files, sampling, transforms, tf.data.

Example (``/data/jester`` stands for the user's own copy of the dataset, hence skipped)::

    >>> from tsm_tf.data import build_dataset, get_dataset_spec
    >>> spec = get_dataset_spec("jester")
    >>> ds = build_dataset(spec, root="/data/jester", list_file="train.txt",  # doctest: +SKIP
    ...                    batch_size=8)

``tsm_tf.data.synthetic`` (the embedded synthetic set) and ``tsm_tf.data.prepare`` (the
preparation CLI) are imported on demand. TensorFlow is only imported when a dataset is built.
"""

from tsm_tf.common.constants import IMAGENET_MEAN, IMAGENET_STD
from tsm_tf.data.errors import DataError, ErrorLog
from tsm_tf.data.listfile import VideoRecord, read_list_file, write_list_file
from tsm_tf.data.pipeline import build_dataset, dataset_size, load_records
from tsm_tf.data.registry import DatasetSpec, get_dataset_spec, list_datasets, resolve_spec
from tsm_tf.data.sampling import (
    dense_indices,
    sample_indices,
    twice_sample_indices,
    uniform_test_indices,
    uniform_train_indices,
    uniform_val_indices,
)

__all__ = [
    "DataError",
    "DatasetSpec",
    "ErrorLog",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VideoRecord",
    "build_dataset",
    "dataset_size",
    "dense_indices",
    "get_dataset_spec",
    "resolve_spec",
    "list_datasets",
    "load_records",
    "read_list_file",
    "sample_indices",
    "twice_sample_indices",
    "uniform_test_indices",
    "uniform_train_indices",
    "uniform_val_indices",
    "write_list_file",
]
