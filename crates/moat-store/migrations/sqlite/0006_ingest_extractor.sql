-- Which extractor read an attached file's text at its last ingest (for a
-- PDF: the built-in reader or poppler's pdftotext), shown in the file's
-- `moat` object.
ALTER TABLE vector_store_files ADD COLUMN extractor TEXT;
