package org.tsmtf.demo.core

/** Sidecar JSON for tests, written from docs/sidecar.md (not from the code under test). */
object TestSidecars {
    fun json(
        inputDtype: String = "int8",
        inputQuant: String = """{"scale": 0.0187, "zero_point": -14}""",
        states: String = """[
          {"input": "state_b", "output": "state_b", "shape": [1, 2, 2, 3], "dtype": "int8",
           "input_quantization": {"scale": 0.02, "zero_point": -3},
           "output_quantization": {"scale": 0.02, "zero_point": -3}, "requantize": false},
          {"input": "state_a", "output": "state_a", "shape": [1, 1, 1, 2], "dtype": "int8",
           "input_quantization": {"scale": 0.1, "zero_point": 5},
           "output_quantization": {"scale": 0.05, "zero_point": 0}, "requantize": true}]""",
        mode: String = "streaming",
        labels: String = """["left", "right", "up"]""",
        outputDtype: String = "float32",
        outputQuant: String = "null",
        temporal: String = """{"sampling": "tsn", "train_frame_stride": 2.0, "dataset_fps": null, "train_stride_seconds": null}""",
    ): String = """
    {
      "format": "tsm_tf.sidecar", "version": 1,
      "model": {"name": "tiny", "mode": "$mode", "arch": "resnet_tiny", "shift": "unidirectional",
                "num_classes": 3, "num_segments": 8, "frames_per_step": 1, "tsm_config": {"x": [1, 2]}},
      "labels": $labels,
      "input": {"name": "image", "shape": [1, 4, 4, 3], "dtype": "$inputDtype", "quantization": $inputQuant,
                "color": "RGB", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
      "preprocess": {"resize_short_side": 4, "crop": [4, 4], "interpolation": "bilinear"},
      "output": {"name": "logits", "shape": [1, 3], "dtype": "$outputDtype", "quantization": $outputQuant},
      "states": $states,
      "temporal": $temporal,
      "conversion": {"precision": "int8", "io": "int8"},
      "report": {"ops": {"CONV_2D": 3}}
    }
    """
}
