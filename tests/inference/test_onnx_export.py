"""`neuralsynth export --format onnx`: the ONNX graph predicts the same mel as torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

import neuralsynth as ns  # noqa: E402
from neuralsynth.cli.main import cli  # noqa: E402
from neuralsynth.inference.load import default_model_path  # noqa: E402
from neuralsynth.inference.onnx_export import export_onnx  # noqa: E402
from neuralsynth.inference.onnx_model import read_onnx_metadata  # noqa: E402
from neuralsynth.midi.read import load_notes  # noqa: E402

EXAMPLE = default_model_path().parents[1] / "examples" / "etude_1.mid"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_onnx(default_model_path(), tmp_path_factory.mktemp("onnx") / "m.onnx")


def test_onnx_matches_torch_on_a_real_piece(exported):
    synth = ns.load_model(device="cpu")
    model = synth.model
    notes = load_notes(EXAMPLE)
    frames = model.encoder.frames_for(notes.duration + 1.0)
    x = torch.from_numpy(np.ascontiguousarray(model.encoder.encode(notes, frames),
                                              np.float32)).unsqueeze(0)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    for spec in ("piano:0.3,organ:0.7", "piano@0s,trumpet@20s"):
        t = synth.timbre(spec).trajectory(model, frames).detach().float().unsqueeze(0)
        with torch.inference_mode():
            ref = model(x, t).numpy()
        got = session.run(["log_mel"], {"pianoroll": x.numpy(), "timbre": t.numpy()})[0]
        assert got.shape == ref.shape == (1, frames, 80) and frames > 3000
        assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()
    # Batches of two, and a length the export never saw.
    x2 = torch.rand(2, 777, model.in_dim)
    t2 = torch.rand(2, 777, model.timbre_width)
    with torch.inference_mode():
        ref = model(x2, t2).numpy()
    got = session.run(["log_mel"], {"pianoroll": x2.numpy(), "timbre": t2.numpy()})[0]
    assert np.abs(got - ref).max() < 1e-4


def test_metadata_holds_what_a_renderer_needs(exported):
    meta = read_onnx_metadata(exported)
    synth = ns.load_model(device="cpu")
    assert meta["instruments"] == synth.instruments and meta["n_mels"] == 80
    table = synth.model.instrument_embeddings().detach().double().numpy()
    assert np.allclose(np.asarray(meta["embeddings"]), table)
    assert meta["recipe"]["model"]["encoder"]["name"] == "pianoroll"
    import onnx

    ops = {node.op_type for node in onnx.load(str(exported)).graph.node}
    assert "LSTM" in ops                          # the BiLSTM is ONNX's own LSTM


def test_cli_export_onnx_and_its_errors(tmp_path):
    out = tmp_path / "cli.onnx"
    result = CliRunner().invoke(cli, ["export", str(default_model_path()), "--format",
                                      "onnx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1_000_000 and "ONNX opset 17" in result.stdout
    wrong = CliRunner().invoke(cli, ["export", str(default_model_path()), "--format", "onnx",
                                     "-o", str(tmp_path / "m.pt")])
    assert wrong.exit_code == 2 and "must end in .onnx" in wrong.stderr
    half = CliRunner().invoke(cli, ["export", str(default_model_path()), "--format", "onnx",
                                    "--half", "-o", str(tmp_path / "h.onnx")])
    assert half.exit_code == 2 and "--half is for --format pt" in half.stderr
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    from neuralsynth.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a loadable ONNX model"):
        read_onnx_metadata(tmp_path / "junk.onnx")


def test_load_model_renders_with_the_onnx_file(exported):
    from neuralsynth.errors import UsageError

    onnx_synth = ns.load_model(str(exported), device="cpu")
    torch_synth = ns.load_model(device="cpu")
    assert onnx_synth.instruments == torch_synth.instruments
    for spec in ("piano:0.3,organ:0.7", "piano@0s,trumpet@20s", "xy:0.2,-0.4"):
        a = onnx_synth.render(EXAMPLE, spec, vocoder="harmonic").samples
        b = torch_synth.render(EXAMPLE, spec, vocoder="harmonic").samples
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-3
    from neuralsynth.inference.onnx_model import load_onnx_model

    with pytest.raises(UsageError, match="run on the CPU"):
        load_onnx_model(exported, torch.device("cuda:0"))
    info = CliRunner().invoke(cli, ["info", str(exported)])
    assert info.exit_code == 0, info.output
    assert "ONNX network" in info.stdout and "grand_piano" in info.stdout
