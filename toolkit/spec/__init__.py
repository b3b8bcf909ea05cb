"""Package specs: JSON files that declare an accounting package's import files, and their engine.

Modules, each depending only on those listed before it:
  errors    SpecError (every problem of a spec, each at its JSON path)
  params    a parameter's declaration and typing
  paths     source paths into the accounting model and their value kinds
  text      pure value -> text functions (formats, pictures, encodings, XML escapes, file names)
  plans     the immutable compiled plans
  compile   spec JSON -> plans, collecting every problem
  load      find, read, schema-validate and compile specs; list the shipped ones
  settings  parameters from the Settings sheet; the period rule
  cells     the runtime of one file (a FileRun per render): fields -> cells, findings
  spool     where rendered files' bytes wait: in memory, or past 8 MB in a temporary file
  wellformed  whether an XML file is well-formed, checked as it is written (a big one by a child process)
  sink      where a writer's lines go: joined and encoded a chunk at a time into the file's bytes
  columns   a hot record's lines for a chunk of documents, a column at a time (no findings)
  lines     writer of delimited, tagged and fixed-width files
  xml       writer of XML files
  render    render(spec, batch): every file's name and bytes, or RenderError
"""

from toolkit.spec.errors import Problem, SpecError
from toolkit.spec.load import Spec, list_specs, load_spec, schema
from toolkit.spec.params import Parameter
from toolkit.spec.render import RenderError, Rendered, render
from toolkit.spec.settings import period_findings, resolve_params

__all__ = ["Parameter", "Problem", "RenderError", "Rendered", "Spec", "SpecError", "list_specs", "load_spec",
           "period_findings", "render", "resolve_params", "schema"]
