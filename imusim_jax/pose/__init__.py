"""Stage 1: video to ``Motion`` (pose estimation at the edge of the library: NumPy, OpenCV, onnxruntime)."""
