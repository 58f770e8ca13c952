"""Static scan: every AWS operation the product's code can call (boto3 client methods).

The package's modules are parsed (never imported); a call ``<receiver>.<method>(...)`` is an AWS
operation when ``method`` is the Python name of an operation of a service the code makes clients
for (``ctx.client("ec2", region)``), and the receiver is that service's client:

- a name or attribute assigned from ``.client("<service>", ...)`` in the same module, or a function
  or property that returns one;
- a chained call ``ctx.client("<service>", ...).<method>(...)``;
- else a receiver named like the service (``ec2``, ``rds``, ``s3``...), or a receiver named
  ``client`` when exactly one used service has the method.

``get_paginator("<op>")`` counts as the operation; ``get_waiter("<name>")`` as the operation the
waiter polls. What the scan cannot attribute is reported in :attr:`Scan.unresolved` so that a
reviewer sees it: the IAM test fails while anything is unresolved.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from botocore import xform_name
from botocore.session import get_session

PACKAGE = Path(__file__).resolve().parents[1]
#: Receiver names the code uses for a service's client, besides the service name itself.
ALIASES = {"r53": "route53", "route_53": "route53", "tagging": "resourcegroupstaggingapi", "cw": "cloudwatch"}
CLIENT_FACTORIES = ("client", "create_client")


@dataclass
class Scan:
    """``calls``: (service, Operation) -> the places (``module:line``) that call it."""

    calls: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    services: set[str] = field(default_factory=set)

    def add(self, service: str, operation: str, where: str) -> None:
        self.calls.setdefault((service, operation), []).append(where)


def _client_service(node: ast.AST) -> str | None:
    """``svc`` when ``node`` contains a call ``<x>.client("svc", ...)``."""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in CLIENT_FACTORIES
            and sub.args
            and isinstance(sub.args[0], ast.Constant)
            and isinstance(sub.args[0].value, str)
        ):
            return sub.args[0].value
    return None


def _terminal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _terminal(node.func)
    return None


def _targets(node: ast.Assign | ast.AnnAssign) -> list[tuple[ast.AST, ast.AST]]:
    """``(target, value)`` pairs, tuple assignments unpacked pairwise."""
    assert node.value is not None
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    pairs: list[tuple[ast.AST, ast.AST]] = []
    for t in targets:
        if (
            isinstance(t, ast.Tuple)
            and isinstance(node.value, ast.Tuple)
            and len(t.elts) == len(node.value.elts)
        ):
            pairs += list(zip(t.elts, node.value.elts, strict=True))
        else:
            pairs.append((t, node.value))
    return pairs


#: A binding that is not a client (a module, a product object): calls on it are not AWS calls.
NOT_A_CLIENT = ""


def _returns_client(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    returns = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
    svcs = {_client_service(r) for r in returns}
    return svcs.pop() if len(svcs) == 1 and None not in svcs else None


def _local_bindings(body: list[ast.stmt], factories: dict[str, str]) -> dict[str, str]:
    """Names a block binds (imports, assignments, nested defs), not looking into nested defs.

    ``factories``: functions of the module that return a client (``r53 = _client(ctx)``).
    """
    out: dict[str, str] = {}
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                out[(alias.asname or alias.name).split(".")[0]] = NOT_A_CLIENT
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            for target, value in _targets(node):
                name = _terminal(target)
                if name and not isinstance(target, ast.Attribute):
                    made = factories.get(_terminal(value.func) or "") if isinstance(value, ast.Call) else None
                    out[name] = _client_service(value) or made or NOT_A_CLIENT
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = _returns_client(node) or NOT_A_CLIENT
            continue
        elif isinstance(node, ast.ClassDef):
            out[node.name] = NOT_A_CLIENT
            continue
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension) and isinstance(
            node.target, ast.Name
        ):
            out[node.target.id] = NOT_A_CLIENT
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name):
                    out[item.optional_vars.id] = _client_service(item.context_expr) or NOT_A_CLIENT
        stack.extend(ast.iter_child_nodes(node))
    return out


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> dict[str, str]:
    """Parameters with a product type annotation are not clients; unannotated or ``Any`` are unknown."""
    out: dict[str, str] = {}
    args = fn.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        ann = getattr(a, "annotation", None)
        if ann is not None and not (isinstance(ann, ast.Name) and ann.id == "Any"):
            out[a.arg] = NOT_A_CLIENT
    return out


class _Visitor(ast.NodeVisitor):
    def __init__(self, rel: str, ops: dict[str, dict[str, str]], created: set[str], result: Scan) -> None:
        self.rel = rel
        self.ops = ops
        self.created = created  # services this module makes clients for
        self.result = result
        self.scopes: list[dict[str, str]] = []
        self.attrs: dict[str, str] = {}  # self.<name> bound to a client anywhere in the module

    def lookup(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def visit_Module(self, node: ast.Module) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target, value in _targets(sub):
                    if isinstance(target, ast.Attribute) and _client_service(value):
                        self.attrs[target.attr] = _client_service(value)  # type: ignore[assignment]
            elif isinstance(sub, ast.FunctionDef) and _returns_client(sub):
                self.attrs[sub.name] = _returns_client(sub)  # type: ignore[assignment]
        self.scopes.append(_local_bindings(node.body, self.attrs))
        self.generic_visit(node)
        self.scopes.pop()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        body: list[ast.stmt] = node.body if isinstance(node.body, list) else [ast.Expr(node.body)]
        self.scopes.append({**_params(node), **_local_bindings(body, self.attrs)})
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function  # noqa: N815

    def receiver(self, node: ast.AST) -> str | None:
        """The service of a client expression, NOT_A_CLIENT, or None when unknown."""
        if isinstance(node, ast.Call):
            svc = _client_service(node)
            if svc and _terminal(node.func) in CLIENT_FACTORIES:
                return svc
            name = _terminal(node.func)
            return self.attrs.get(name or "") or NOT_A_CLIENT
        if isinstance(node, ast.Name):
            bound = self.lookup(node.id)
            if bound is not None:
                return bound
            return ALIASES.get(node.id) or (node.id if node.id in self.result.services else None)
        if isinstance(node, ast.Attribute):
            if node.attr in self.attrs:
                return self.attrs[node.attr]
            return ALIASES.get(node.attr) or (
                node.attr if node.attr in self.result.services else NOT_A_CLIENT
            )
        return NOT_A_CLIENT

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic_visit(node)
        method = node.attr
        if method in ("get_paginator", "get_waiter"):
            return
        candidates = [s for s in sorted(self.ops) if method in self.ops[s]]
        if not candidates:
            return
        svc = self.receiver(node.value)
        where = f"{self.rel}:{node.lineno}"
        if svc == NOT_A_CLIENT:
            return
        if svc is None:  # an unannotated parameter or name: the module's own services decide
            mine = [s for s in candidates if s in self.created]
            if len(mine) != 1:
                self.result.unresolved.append(
                    f"{where}: {_terminal(node.value)}.{method} could be {candidates}"
                )
                return
            svc = mine[0]
        if svc in candidates:
            self.result.add(svc, self.ops[svc][method], where)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
            self._getattr(node)
            return
        if not isinstance(func, ast.Attribute) or func.attr not in ("get_paginator", "get_waiter"):
            return
        where = f"{self.rel}:{node.lineno}"
        svc = self.receiver(func.value) or None
        if svc is None:
            mine = sorted(self.created)
            svc = mine[0] if len(mine) == 1 else None
        table = self.ops if func.attr == "get_paginator" else self.waiters
        if not (node.args and isinstance(node.args[0], ast.Constant)):
            # a name from data: every string constant of the module naming one of svc's operations
            named = [c for c in self.constants if c in table.get(svc or "", {})]
            if not named:
                self.result.unresolved.append(f"{where}: {func.attr} with a computed name on {svc}")
            for c in named:
                self.result.add(svc or "", table[svc or ""][c], f"{where} ({c!r})")
            return
        arg = str(node.args[0].value)
        owners = [s for s in ([svc] if svc in table else sorted(table)) if arg in table.get(s, {})]
        if len(owners) == 1:
            self.result.add(owners[0], table[owners[0]][arg], where)
        else:
            self.result.unresolved.append(f"{where}: {func.attr}({arg!r}) of one of {owners}")

    def _getattr(self, node: ast.Call) -> None:
        """``getattr(client, name)``: a literal name, or every operation a package constant names."""
        svc = self.receiver(node.args[0])
        if not svc:
            return
        where = f"{self.rel}:{node.lineno}"
        name = node.args[1]
        names = [name.value] if isinstance(name, ast.Constant) else sorted(self.constants)
        named = [n for n in names if n in self.ops.get(svc, {})]
        if not named:
            self.result.unresolved.append(f"{where}: getattr on a {svc} client, operation unknown")
        for n in named:
            self.result.add(svc, self.ops[svc][n], f"{where} ({n!r})")

    waiters: dict[str, dict[str, str]] = {}
    #: every string constant of the package (operation names held in data, e.g. a kind's spec)
    constants: set[str] = set()


def _created(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _terminal(node.func) in CLIENT_FACTORIES:
            svc = _client_service(node)
            if svc:
                out.add(svc)
    return out


def scan(package: Path = PACKAGE) -> Scan:
    """Every AWS operation the modules under ``package`` call (the ``iam`` package excluded)."""
    session = get_session()
    trees = {
        p: ast.parse(p.read_text(), str(p))
        for p in sorted(package.rglob("*.py"))
        if "iam" not in p.relative_to(package).parts
    }
    result = Scan()
    created = {p: _created(t) for p, t in trees.items()}
    for svcs in created.values():
        result.services |= svcs
    ops: dict[str, dict[str, str]] = {}
    waiters: dict[str, dict[str, str]] = {}
    for svc in sorted(result.services):
        model = session.get_service_model(svc)
        ops[svc] = {xform_name(op): op for op in model.operation_names}
        try:
            wmodel = session.get_waiter_model(svc)
        except Exception:  # noqa: BLE001 - a service without waiters
            continue
        waiters[svc] = {xform_name(w): wmodel.get_waiter(w).operation for w in wmodel.waiter_names}
    constants = {
        n.value
        for t in trees.values()
        for n in ast.walk(t)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    for path, tree in trees.items():
        visitor = _Visitor(str(path.relative_to(package.parent)), ops, created[path], result)
        visitor.waiters = waiters
        visitor.constants = constants
        visitor.visit(tree)
    return result
