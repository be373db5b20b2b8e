"""Synthetic inputs with known ground truth (scenes, video files), made with numpy and OpenCV, for training,
benchmarks and tests; nothing an app that reads digits needs."""
