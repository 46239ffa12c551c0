#!/usr/bin/env python3
"""Checks the live OpenAPI document: it validates, and a client generated from it works.

Usage: check_openapi.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD
       check_openapi.py --token BASE_URL ADMIN_EMAIL ADMIN_PASSWORD  (prints an access token)

1. Fetches BASE_URL/openapi.json and validates it against the OpenAPI 3.1 specification
   (openapi-spec-validator).
2. Generates a Python client from it with openapi-python-client, a standard generator, and
   with that client only: logs in as the administrator, then creates, reads, updates and
   deletes a customer and a product, and checks that each is gone afterwards (404).

Exits non-zero with the reason on any failure.
"""

import importlib
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import urllib.request

from openapi_spec_validator import validate


def fail(message):
    sys.exit(f"check_openapi: {message}")


def fetch(base):
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as response:
        return response.read()


def generate(document_bytes, workdir):
    """Generates the client package into WORKDIR and returns its module name."""
    spec = os.path.join(workdir, "openapi.json")
    with open(spec, "wb") as f:
        f.write(document_bytes)
    out = os.path.join(workdir, "client")
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [os.path.join(bin_dir, "openapi-python-client"), "generate",
         "--path", spec, "--output-path", out],
        capture_output=True, text=True, env=env, timeout=300,
    )
    if result.returncode != 0 or "Warning" in result.stdout + result.stderr:
        fail(f"client generation was not clean:\n{result.stdout}\n{result.stderr}")
    packages = [d for d in os.listdir(out) if os.path.isfile(os.path.join(out, d, "__init__.py"))]
    if len(packages) != 1:
        fail(f"expected one generated package, found {packages}")
    sys.path.insert(0, out)
    return packages[0]


def expect(what, value, kind):
    if not isinstance(value, kind):
        fail(f"{what}: expected {kind.__name__}, got {value!r}")
    return value


def crud(pkg, base, email, password):
    """Customer and product create/read/update/delete through the generated client."""
    mod = lambda name: importlib.import_module(f"{pkg}.{name}")  # noqa: E731
    client_mod, models = mod("client"), mod("models")
    api = lambda area, op: mod(f"api.{area}.{area}_{op}")  # noqa: E731

    pair = api("auth", "login").sync(
        client=client_mod.Client(base_url=base),
        body=models.LoginRequest(email=email, password=password),
    )
    pair = expect("login", pair, models.TokenPair)
    client = client_mod.AuthenticatedClient(base_url=base, token=pair.access_token)

    def read_back(area, ident, model, field, want):
        row = expect(f"{area} read", api(area, "get").sync(id=ident, client=client), model)
        if getattr(row, field) != want:
            fail(f"{area} {ident}: read back {field}={getattr(row, field)!r}, wanted {want!r}")

    def delete(area, ident):
        deleted = api(area, "delete").sync_detailed(id=ident, client=client)
        if deleted.status_code != 204:
            fail(f"{area} delete answered {deleted.status_code}")
        gone = api(area, "get").sync(id=ident, client=client)
        # The error body parses into the generated model, code and all.
        if not (isinstance(gone, models.Error) and gone.code.value == "not_found"):
            fail(f"deleted {area} {ident} reads as {gone!r}")

    customer_id = "".join(random.choices(string.ascii_uppercase, k=5))
    created = api("customers", "create").sync(
        client=client,
        body=models.NewCustomer(customer_id=customer_id, company_name="Generated Client GmbH",
                                country="Germany"),
    )
    if expect("customer create", created, models.Customer).customer_id != customer_id:
        fail(f"created customer {created.customer_id}, asked for {customer_id}")
    read_back("customers", customer_id, models.Customer, "company_name", "Generated Client GmbH")
    updated = api("customers", "update").sync(
        id=customer_id, client=client, body=models.CustomerPatch(city="Berlin"))
    if expect("customer update", updated, models.Customer).city != "Berlin":
        fail("the customer update did not stick")
    page = api("customers", "list").sync(client=client, country="Germany", limit=100)
    page = expect("customer list", page, models.PageCustomer)
    if customer_id not in [c.customer_id for c in page.data]:
        fail("the new customer is not listed")
    delete("customers", customer_id)

    product = api("products", "create").sync(
        client=client,
        body=models.NewProduct(product_name="Generated Tea", unit_price="12.50", category_id=1),
    )
    product = expect("product create", product, models.Product)
    if product.unit_price != "12.50" or product.category_name is None:
        fail(f"created product reads {product!r}")
    read_back("products", product.product_id, models.Product, "product_name", "Generated Tea")
    updated = api("products", "update").sync(
        id=product.product_id, client=client,
        body=models.ProductPatch(units_in_stock=7, discontinued=True))
    updated = expect("product update", updated, models.Product)
    if (updated.units_in_stock, updated.discontinued) != (7, True):
        fail("the product update did not stick")
    delete("products", product.product_id)


def token(base, email, password):
    """An access token for the account, for tools that take a bearer token (schemathesis)."""
    body = json.dumps({"email": email, "password": password}).encode()
    request = urllib.request.Request(f"{base}/auth/login", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def main():
    args = sys.argv[1:]
    if args[:1] == ["--token"] and len(args) == 4:
        print(token(args[1].rstrip("/"), args[2], args[3]))
        return
    if len(args) != 3:
        sys.exit(__doc__)
    base, email, password = args[0].rstrip("/"), args[1], args[2]
    document_bytes = fetch(base)
    try:
        validate(json.loads(document_bytes))
    except Exception as e:  # the validator raises one of several error types
        fail(f"the document is not valid OpenAPI 3.1: {e}")
    print("check_openapi: the live document is valid OpenAPI 3.1")
    with tempfile.TemporaryDirectory() as workdir:
        pkg = generate(document_bytes, workdir)
        crud(pkg, base, email, password)
    print(f"check_openapi: a client generated by openapi-python-client ({pkg}) logged in and "
          "created, read, updated and deleted a customer and a product")


if __name__ == "__main__":
    main()
