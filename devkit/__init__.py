"""The dev kit: what the local stack (local/), the sample events (events/), the benchmarks and the tests
share. Sample photos (photos: from scikit-image and matplotlib, no committed photos of people) and images
built byte by byte (images), the template reader (template), the Lambda layer builder (lambda_layer) and the
emulator's test credentials (credentials). Never deployed; nothing here imports tests/.
"""
