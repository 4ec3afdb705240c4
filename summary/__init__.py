"""What summarize.py makes of finished result folders: tables (`tables`), figures (`figures`) and a page to
browse the examples (`browser`)."""
