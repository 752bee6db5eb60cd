"""Contract toolchains: the compilers that turn a user contract's source into a WebAssembly
module for the chain's `vm`, with the contract SDK of each language and project templates.

One module per language, used by its name: ``assemblyscript.install()``,
``assemblyscript.new_project(template, name, destination)``, ``assemblyscript.build(project)``.
"""

from causeway.toolchains import assemblyscript

__all__ = ["assemblyscript"]
