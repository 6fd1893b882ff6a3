"""The commands of ``orderfsm``, one module each, named after its command (``import_`` for
``import``, ``check_log`` for ``check-log``). Each is a click command on its own, thin over the
package's public API; :mod:`statemachine.cli._group` puts them under the ``orderfsm`` group.
"""
