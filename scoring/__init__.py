"""Image-text scores from BLIP's heads, Winoground data and metrics, and reporting."""
