"""Generates the Python protobuf and gRPC stubs from the repository's proto/.

    python gen_stubs.py OUT_DIR

writes OUT_DIR/pledgeledger/v1/{transaction,ledger_service}_pb2[_grpc].py;
put OUT_DIR on sys.path (run-tests.sh does). Only the public API
(pledgeledger/v1) is generated, not the member-to-member cluster protocol.
"""

import pathlib
import sys

from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto" / "proto"
API_FILES = ["pledgeledger/v1/transaction.proto", "pledgeledger/v1/ledger_service.proto"]


def main(out_dir: str) -> None:
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *API_FILES,
    ]
    if protoc.main(args) != 0:
        sys.exit(f"protoc failed on {PROTO_ROOT}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
