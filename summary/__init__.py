"""What summarize.py makes of finished result folders: reading them (`results`), tables (`tables`), figures
(`figures`), a page to browse a grid run's examples (`browser`) and one for a re-ranking run's queries
(`queries`)."""
