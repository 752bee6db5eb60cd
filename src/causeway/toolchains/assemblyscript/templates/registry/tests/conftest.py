"""The fixtures of a contract's tests (causeway.toolchains.pytest_plugin): `chain`, a chain in
this process; `contract_module`, the built module; `contract`, that module deployed on `chain`.
`causeway contract test` loads the plugin itself; this line lets plain `pytest tests` do it too
(it then builds the project first)."""

pytest_plugins = ("causeway.toolchains.pytest_plugin",)
