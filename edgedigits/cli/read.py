"""Commands that read digits: from image files (predict) and live (webcam). Runtime only: no TensorFlow."""

from __future__ import annotations

import click

from edgedigits import limits
from edgedigits.cli.group import cli
from edgedigits.options import count, reader_options


@cli.command("webcam")
@click.option("--source", default="0", show_default=True,
              help="Camera index, video file, image, folder of images, or a glob such as 'shots/*.png'.")
@click.option("--headless/--window", default=None,
              help="Headless: one JSON line per frame on stdout, no window. Default: a window if there is a display.")
@click.option("--save", type=click.Path(dir_okay=False), default=None,
              help="Also write the annotated frames to this video (.avi or .mp4).")
@click.option("--max-frames", default=0, show_default=True, type=count(0, limits.MAX_FRAMES),
              help="Stop after this many frames (0 = until the source ends, or q/Esc in the window).")
@reader_options
def webcam_cmd(source, headless, save, max_frames, model, threshold, ink, threads, touching, number_model):
    """Read digits live from a camera, a video or images: boxes, digits, confidences, frames/s.

    In the window, q or Esc quits. Headless (automatic without a display) prints one JSON line per frame:
    frame, time, ms, text, digits, confidences, uncertain, boxes [x,y,w,h], lines.
    """
    from edgedigits.runtime import webcam

    webcam.live(source, headless, save, max_frames, model, threads, threshold, ink, touching, number_model)


@cli.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line and image: image, text, digits, confidences, uncertain, boxes, lines.")
@reader_options
def predict_cmd(images, as_json, model, threshold, ink, threads, touching, number_model):
    """Print the digits read in each IMAGE: 'IMAGE: 1234', lines separated by a space, '?' after an uncertain digit."""
    from edgedigits.runtime import webcam

    for line in webcam.predict(images, model, threads, threshold, ink, as_json, touching, number_model):
        click.echo(line)
