"""Finding and reading handwritten digits in a frame: finder (the number finder: numbers' centre lines from a small
network), strips (each number cut out level and read by the strip reader), page (the two together, the default),
find (blobs of ink, MNIST-normalized), sequence (the number reader for blob groups), segment (seam cuts), reader
(Reader, load_reader), output (text, JSON, annotated frame), images (files in) and predict (`edgedigits predict`).
The camera loop is edgedigits.runtime.webcam."""
