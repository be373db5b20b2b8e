"""Finding and reading handwritten digits in a frame: find (blobs of ink, MNIST-normalized), sequence (the number
reader for touching digits), segment (seam cuts), reader (Reader, load_reader), output (text, JSON, annotated
frame), images (files in) and predict (`edgedigits predict`). The camera loop is edgedigits.runtime.webcam."""
