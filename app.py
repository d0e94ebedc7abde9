"""Entry point. Until the chat UI lands, it prepares the database and prints what it holds."""

from __future__ import annotations

import logging
import sys

from app.settings import Settings
from app.tools import Toolbox
from db.importer import DataUnavailable


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    try:
        toolbox = Toolbox.open(settings)
    except DataUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Database: {settings.database_url}")
    for name, tool in toolbox.tools.items():
        if tool.kind == "find":
            count = toolbox.call(name, {}, "summary").result["count"]
            print(f"  {tool.domain.name:<11} {count:>5} rows   {tool.signature()}")
        else:
            print(f"  {'':<11} {'':>5}        {tool.signature()}")
    print('Try the APIs: echo \'{"name": "FindHotel", "arguments": {"area": "north"}}\' | python -m app.tools')
    return 0


if __name__ == "__main__":
    sys.exit(main())
