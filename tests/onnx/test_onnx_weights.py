"""Weights manifest, ``fetch`` (local HTTP server with Range support), resumption, checksums, the CLI."""
from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from imusim_jax import weights
from imusim_jax._motion import InputError
from imusim_jax.pose._onnx import OnnxModel
from imusim_jax.cli.weights import weights_app


class _Server:
    """Serves one payload at /model.onnx; honours ``Range: bytes=N-``; can cut the first response short."""

    def __init__(self, payload: bytes):
        self.payload, self.requests, self.cut_after, self.honour_range = payload, [], None, True
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.requests.append(rng)
                if self.path != "/model.onnx":
                    self.send_error(404)
                    return
                data, start = outer.payload, 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and outer.honour_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_after is not None:  # announce everything, send part, drop the connection
                    self.wfile.write(body[:outer.cut_after])
                    self.wfile.flush()
                    outer.cut_after = None
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/model.onnx"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def payload(tiny) -> bytes:
    return tiny["vitpose_tiny"].read_bytes()


@pytest.fixture
def server(payload):
    s = _Server(payload)
    yield s
    s.close()


def write_manifest(path, url, sha256, **extra) -> str:
    entry = {"task": "pose2d", "description": "tiny", "file": "tiny.onnx", "url": url, "sha256": sha256,
             "sha256_note": "test", "source": "local test server", **extra}
    path.write_text(json.dumps({"version": 1, "models": {"tiny": entry}}))
    return str(path)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_fetch_downloads_and_verifies(tmp_path, server, payload):
    man = write_manifest(tmp_path / "m.json", server.url, sha(payload))
    dest = tmp_path / "w"
    path = weights.fetch("tiny", dest_dir=dest, progress=False, manifest=man)
    assert path == dest / "tiny.onnx" and path.read_bytes() == payload
    assert not (dest / "tiny.onnx.part").exists()
    assert OnnxModel(path).outputs[0].name == "heatmaps"  # the download is a working model
    assert weights.verify("tiny", dest, man).status == "ok"
    weights.fetch("tiny", dest_dir=dest, progress=False, manifest=man)  # present and verified: no new request
    assert len(server.requests) == 1


def test_fetch_resumes_an_interrupted_download(tmp_path, server, payload):
    man = write_manifest(tmp_path / "m.json", server.url, sha(payload))
    cut = len(payload) * 2 // 5
    server.cut_after = cut
    with pytest.raises(InputError, match="interrupted.*run the same command again"):
        weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man, timeout_s=5)
    part = tmp_path / "tiny.onnx.part"
    assert part.stat().st_size == cut and not (tmp_path / "tiny.onnx").exists()
    path = weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man)
    assert server.requests == [None, f"bytes={cut}-"]
    assert path.read_bytes() == payload and not part.exists()


def test_fetch_starts_over_when_the_server_ignores_range(tmp_path, server, payload):
    man = write_manifest(tmp_path / "m.json", server.url, sha(payload))
    (tmp_path / "tiny.onnx.part").write_bytes(b"stale bytes")
    server.honour_range = False
    path = weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man)
    assert path.read_bytes() == payload


def test_checksum_mismatch_quarantines_the_file(tmp_path, server):
    man = write_manifest(tmp_path / "m.json", server.url, "0" * 64)
    with pytest.raises(InputError, match="checksum mismatch for tiny.onnx: expected sha256 0{64}, got"):
        weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man)
    assert (tmp_path / "tiny.onnx.corrupt").exists()
    assert not (tmp_path / "tiny.onnx").exists() and not (tmp_path / "tiny.onnx.part").exists()


def test_unknown_sha256_needs_no_verify(tmp_path, server, payload, capsys):
    man = write_manifest(tmp_path / "m.json", server.url, None)
    with pytest.raises(InputError, match="no sha256 is known.*--no-verify"):
        weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man)
    assert server.requests == []  # refused before downloading
    weights.fetch("tiny", dest_dir=tmp_path, progress=True, verify=False, manifest=man)
    assert sha(payload) in capsys.readouterr().out  # the computed hash is printed for the manifest
    assert weights.verify("tiny", tmp_path, man).status == "unknown"
    path = weights.fetch("tiny", dest_dir=tmp_path / "b", progress=False, sha256=sha(payload), manifest=man)
    assert path.read_bytes() == payload


def test_url_override_and_http_errors(tmp_path, server, payload):
    man = write_manifest(tmp_path / "m.json", "http://127.0.0.1:9/nowhere.onnx", sha(payload))
    path = weights.fetch("tiny", dest_dir=tmp_path, url=server.url, progress=False, manifest=man)
    assert path.read_bytes() == payload
    with pytest.raises(InputError, match="HTTP 404"):
        weights.fetch("tiny", dest_dir=tmp_path / "x", url=server.url.replace("model", "other"), progress=False,
                      manifest=man)


def test_checkpoint_entries(tmp_path, server, payload):
    by_hand = {"file": "ck.pth", "url": "https://example.invalid/share", "direct": False, "sha256": None}
    man = write_manifest(tmp_path / "m.json", None, None, checkpoint=by_hand, export="python export.py ck.pth")
    with pytest.raises(InputError, match="no direct download.*by hand from https://example.invalid/share.*export.py"):
        weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man)
    direct = {"file": "ck.pth", "url": server.url, "direct": True, "sha256": sha(payload)}
    man = write_manifest(tmp_path / "m2.json", None, None, checkpoint=direct, export="python export.py ck.pth")
    path = weights.fetch("tiny", dest_dir=tmp_path, progress=False, manifest=man)
    assert path.name == "ck.pth" and path.read_bytes() == payload


def test_verify_and_model_path(tmp_path, payload):
    man = write_manifest(tmp_path / "m.json", "http://x/y.onnx", sha(payload))
    assert weights.verify("tiny", tmp_path, man).status == "missing"
    with pytest.raises(InputError, match="imusim-jax weights fetch tiny"):
        weights.model_path("tiny", tmp_path, man)
    (tmp_path / "tiny.onnx").write_bytes(payload[:-1] + b"x")
    assert weights.verify("tiny", tmp_path, man).status == "mismatch"
    (tmp_path / "tiny.onnx").write_bytes(payload)
    assert weights.model_path("tiny", tmp_path, man) == tmp_path / "tiny.onnx"
    with pytest.raises(InputError, match="unknown model 'nope'"):
        weights.verify("nope", tmp_path, man)


def test_weights_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("IMUSIM_WEIGHTS", str(tmp_path))
    assert weights.weights_dir() == tmp_path
    assert weights.manifest_path().name == "manifest.json"
    monkeypatch.delenv("IMUSIM_WEIGHTS")
    assert weights.weights_dir().name == "onnx_weights"


def test_real_manifest_is_complete():
    models = weights.load_manifest(weights._REPO_WEIGHTS / "manifest.json")
    assert {"yolox-s", "vitpose-b", "vitpose-l", "vitpose-h", "videopose3d-243"} <= set(models)
    for name, e in models.items():
        assert e["file"].endswith(".onnx") and e["source"] and e["license"], name
        for spec in e["inputs"] + e["outputs"]:
            assert spec["name"] and spec["dtype"] == "float32" and len(spec["shape"]) in (3, 4), name
        sha256 = e["sha256"]
        assert sha256 is None and e["sha256_note"] or re.fullmatch(r"[0-9a-f]{64}", sha256), name
        assert e["url"] or (e.get("checkpoint", {}).get("url") and e.get("export")), name
    assert models["videopose3d-243"]["metadata"]["receptive_field"] == "243"
    assert "NC" in models["videopose3d-243"]["license"]


def test_cli_list_fetch_verify(tmp_path, server, payload, monkeypatch):
    write_manifest(tmp_path / "manifest.json", server.url, sha(payload))
    monkeypatch.setenv("IMUSIM_WEIGHTS", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(weights_app, ["list"])
    assert r.exit_code == 0 and re.search(r"tiny\s+missing", r.output)
    r = runner.invoke(weights_app, ["fetch", "tiny", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "tiny.onnx").read_bytes() == payload
    r = runner.invoke(weights_app, ["verify"])
    assert r.exit_code == 0 and re.search(r"tiny\s+ok", r.output)
    (tmp_path / "tiny.onnx").write_bytes(b"broken")
    r = runner.invoke(weights_app, ["verify", "tiny"])
    assert r.exit_code == 1 and "mismatch" in r.output
    r = runner.invoke(weights_app, ["fetch", "nope"])
    assert r.exit_code == 2 and "error: unknown model 'nope'" in r.output


def test_runner_error_names_the_fetch_command(tmp_path, monkeypatch):
    from imusim_jax.pose.vitpose import VitPose

    monkeypatch.setenv("IMUSIM_WEIGHTS", str(tmp_path))
    with pytest.raises(InputError, match=r"imusim-jax weights fetch vitpose-b"):
        VitPose("vitpose-b")  # a manifest name whose file is absent
    with pytest.raises(InputError, match=r"not found.*imusim-jax weights fetch vitpose-b`"):
        VitPose(tmp_path / "vitpose-b-coco-256x192.onnx")  # a path whose file name is in the manifest
    with pytest.raises(InputError, match=r"imusim-jax weights fetch NAME"):
        VitPose(tmp_path / "elsewhere.onnx")
    np.testing.assert_equal(weights.name_for_file("videopose3d-243-h36m-coco.onnx"), "videopose3d-243")
