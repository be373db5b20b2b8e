"""Commands that read images: digits from image files (predict) and live (webcam), and a batch of images through
any image classifier (classify). Runtime only: no TensorFlow."""

from __future__ import annotations

import sys

import click

from edgedigits import limits
from edgedigits.cli.group import EXIT_PARTIAL, cli
from edgedigits.errors import one_line
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
    """Print the digits read in each IMAGE: 'IMAGE: 1234', lines separated by a space, '?' after an uncertain digit.

    Each line is printed as its image is read. An image that cannot be read is named on stderr and the rest are
    read: exit status 4 if some could not be read, 2 if none could.
    """
    from edgedigits.errors import InputError
    from edgedigits.runtime import webcam

    problems, told, printed = [], 0, 0
    for line in webcam.predict(images, model, threads, threshold, ink, as_json, touching, number_model, problems):
        told = _tell(problems, told)
        click.echo(line)
        printed += 1
    if problems and not printed:
        raise InputError(problems[0] if len(problems) == 1 else f"none of the {len(images)} images could be read: "
                         f"{problems[0]} (and {len(problems) - 1} more)")
    _tell(problems, told)
    if problems:
        sys.exit(EXIT_PARTIAL)


def _tell(problems: list[str], told: int) -> int:
    """Print the problems not yet printed, each on one line of stderr, as they happen."""
    for problem in problems[told:]:
        click.echo(f"edgedigits: {one_line(problem)}", err=True)
    return len(problems)


@cli.command("classify")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("images", type=click.Path())
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the predictions CSV here (default: print it).")
@click.option("--label", default="label", show_default=True,
              help="A CSV column of this name (any case) holds labels: scored, never read as pixels.")
@click.option("--threads", default=0, show_default=True, type=count(0, limits.MAX_THREADS),
              help="onnxruntime intra-op threads (0 = all cores).")
def classify_cmd(model, images, out, label, threads):
    """Classify every image of IMAGES with MODEL (any edgedigits image classifier .onnx): one CSV row per image with
    its id, class and probability.

    IMAGES is a .csv with one row per image and one column per pixel, as the model's training data had them (a
    column named "id" names the row; else the line number does), or a folder of image files, resized to the
    model's input.
    """
    from edgedigits.runtime.model import batch

    result = batch.classify(model, images, label, threads)
    if out:
        batch.write(result, out)
    else:
        click.echo(batch.as_csv(result), nl=False)
    note = f"; accuracy {result.accuracy:.2f}% against column {label!r}" if result.accuracy is not None else ""
    click.echo(f"classified {len(result.ids):,} images{note}" + (f"; wrote {out}" if out else ""), err=True)
