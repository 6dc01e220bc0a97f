import importlib.util
from pathlib import Path

import ranklsim
from ranklsim.models import ids
from ranklsim.models.parameters import SPECIES_NAMES, parameter_table

ROOT = Path(__file__).resolve().parents[1]


def test_ids_module_is_in_sync_with_table_and_modules():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "generate_ids.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "src/ranklsim/models/ids.py").read_text() == gen.render()


def test_every_id_constant_exists_in_the_model():
    for species in SPECIES_NAMES:
        model = ranklsim.load_model(species)
        assert set(parameter_table(species)) == ids.PARAMETER_IDS
        compartments = set(model._rr.model.getCompartmentIds())
        assert set(model.state_ids) | set(model.output_ids) | compartments >= ids.VARIABLE_IDS


def test_parameter_table_rows_are_complete():
    for species in SPECIES_NAMES:
        for p in parameter_table(species).values():
            assert p.source.strip() and p.unit.strip(), p.id
            assert p.lower <= p.value <= p.upper, p.id


def test_import_does_not_pull_tellurium():
    import subprocess
    import sys

    code = "import sys, ranklsim; ranklsim.load_model('human'); print('tellurium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
