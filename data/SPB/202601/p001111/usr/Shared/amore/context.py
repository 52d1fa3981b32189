# DAMNIT context file for proposal 1111 (SPB/SFX, cycle 202601).
#
# Every function decorated with @Variable becomes a column in the DAMNIT
# table. data="raw" variables run as soon as a run is closed; data="proc"
# ones wait for the calibrated (corrected) data. Arguments of the form
# "var#name" depend on other variables, "mymdc#field" come from myMdC.
#
# Maintainer: SPB/SFX instrument team — ask before editing on shift.
# Last change: switched hit finding to the corrected AGIPD data (Jan 2026).

import numpy as np
import xarray as xr

from damnit_ctx import Variable, Cell

# --- Sources --------------------------------------------------------------

XGM = "SPB_XTD9_XGM/XGM/DOOCS"
XGM_CH = "SPB_XTD9_XGM/XGM/DOOCS:output"
UNDULATOR = "SA1_XTD2_UND/MDL/GAIN_CURVE_CALCULATOR"
AGIPD_CORR = "SPB_DET_AGIPD1M-1/CORR/{}CH0:output"
SAMPLE_Y = "SPB_IRU_INJMOV/MOTOR/Y"
SAMPLE_Z = "SPB_IRU_INJMOV/MOTOR/Z"
DETECTOR_Z = "SPB_IRU_AGIPD1M/MOTOR/Z_STEPPER"

# A frame counts as a hit when more than this many pixels are above
# the photon threshold (≈ 1 photon at 9.3 keV in ADU after correction).
PHOTON_THRESHOLD = 6.5
HIT_PIXELS = 120
HIT_MODULES = [3, 4, 11, 12]   # modules closest to the beam


def _trains_with_data(run, source, key):
    """Number of trains in which a source actually recorded a key."""
    counts = run[source, key].data_counts(labelled=False)
    return int(np.count_nonzero(counts))


# --- Run metadata ---------------------------------------------------------

@Variable(title="Sample", data="raw")
def sample(run, name: "mymdc#sample_name"):
    return name


@Variable(title="Run type", data="raw")
def run_type(run, kind: "mymdc#run_type"):
    return kind


@Variable(title="Trains", summary="max", data="raw")
def n_trains(run):
    return len(run.train_ids)


@Variable(title="Files", data="raw")
def n_files(run):
    return len(run.files)


@Variable(title="Duration [s]", data="raw")
def duration(run):
    ts = run.train_timestamps()
    valid = ts[~np.isnat(ts)]
    if len(valid) < 2:
        return 0.0
    return float((valid[-1] - valid[0]) / np.timedelta64(1, "s"))


# --- Beam -----------------------------------------------------------------

@Variable(title="XGM intensity [µJ]", summary="mean", data="raw")
def xgm_intensity(run):
    """Pulse energy per train from the XTD9 XGM, averaged over pulses."""
    energy = run[XGM_CH, "data.intensitySa1TD"].xarray()
    # The XGM pads unused pulse slots with 1.0; drop them.
    energy = energy.where(energy > 1.0)
    per_train = energy.mean(dim="dim_0", skipna=True)
    return per_train.dropna("trainId")


@Variable(title="Pulses per train", summary="max", data="raw")
def pulses_per_train(run):
    n = run[XGM, "pulseEnergy.numberOfSa1BunchesActual"].ndarray()
    return int(np.median(n)) if n.size else 0


@Variable(title="Photon energy [keV]", summary="mean", data="raw")
def photon_energy(run):
    energy = run[UNDULATOR, "actualPosition"].ndarray()
    return float(np.round(np.nanmean(energy), 3))


@Variable(title="Wavelength [Å]", data="raw")
def wavelength(run, energy: "var#photon_energy"):
    # λ [Å] = hc / E, with hc = 12.398 keV·Å
    return 12.398 / energy


# --- Motors ---------------------------------------------------------------

@Variable(title="Injector Y [mm]", summary="mean", data="raw")
def injector_y(run):
    return run[SAMPLE_Y, "actualPosition"].xarray()


@Variable(title="Injector Z [mm]", data="raw")
def injector_z(run):
    pos = run[SAMPLE_Z, "actualPosition"].ndarray()
    return float(pos.mean())


@Variable(title="Detector distance [mm]", data="raw")
def detector_distance(run):
    # Motor reads 0 at the nominal 120.5 mm distance from the interaction point.
    offset = 120.5
    pos = run.get_run_value(DETECTOR_Z, "actualPosition")
    return float(pos) + offset


@Variable(title="Injector scan", data="raw")
def injector_scan(run):
    """Whether the injector moved by more than 50 µm during the run."""
    pos = run[SAMPLE_Y, "actualPosition"].ndarray()
    moved = float(np.ptp(pos)) if pos.size else 0.0
    return Cell(moved > 0.05, summary_value=round(moved, 3))


# --- Detector -------------------------------------------------------------

def _agipd_module(run, module):
    src = AGIPD_CORR.format(module)
    return run[src, "image.data"]


@Variable(title="AGIPD mean image", summary="mean", data="proc")
def agipd_mean(run):
    """Mean corrected image of the central AGIPD modules, first 200 trains."""
    sel = run.select_trains(np.s_[:200])
    modules = []
    for m in HIT_MODULES:
        frames = _agipd_module(sel, m).ndarray(roi=np.s_[:, :, :])
        frames = np.nan_to_num(frames, nan=0.0)
        modules.append(frames.mean(axis=0))
    image = np.stack(modules)
    return xr.DataArray(image, dims=["module", "slow_scan", "fast_scan"],
                        coords={"module": HIT_MODULES})


@Variable(title="AGIPD frames", summary="sum", data="proc")
def agipd_frames(run):
    counts = _agipd_module(run, HIT_MODULES[0]).data_counts()
    return counts


@Variable(title="Lit pixels", summary="mean", data="proc")
def lit_pixels(run):
    """Pixels above the photon threshold per frame, summed over modules."""
    total = None
    for m in HIT_MODULES:
        data = _agipd_module(run, m).xarray()
        lit = (data > PHOTON_THRESHOLD).sum(dim=["dim_1", "dim_2"])
        total = lit if total is None else total + lit
    return total


@Variable(title="Hit rate [%]", summary="mean", data="proc")
def hit_rate(run, lit: "var#lit_pixels"):
    hits = np.asarray(lit) > HIT_PIXELS
    if hits.size == 0:
        return np.nan
    rate = 100.0 * hits.sum() / hits.size
    return Cell(rate, bold=rate > 5.0)


@Variable(title="Hits", summary="sum", data="proc")
def n_hits(run, lit: "var#lit_pixels"):
    return int((np.asarray(lit) > HIT_PIXELS).sum())


# --- Derived --------------------------------------------------------------

@Variable(title="Hit rate / XGM [%/µJ]", summary="mean", data="proc")
def ratio(run, a: "var#xgm_intensity", b: "var#hit_rate"):
    """Hit rate normalised by the mean pulse energy."""
    mean_energy = float(np.nanmean(a))
    if not np.isfinite(mean_energy) or mean_energy <= 0:
        return np.nan
    return b / mean_energy


@Variable(title="Dose [mJ]", data="raw")
def dose(run, energy: "var#xgm_intensity", pulses: "var#pulses_per_train"):
    # Total energy delivered: µJ per pulse × pulses × trains, in mJ.
    return float(np.nansum(energy)) * pulses / 1000.0


@Variable(title="Comment", data="proc")
def auto_comment(run, kind: "mymdc#run_type", rate: "var#hit_rate"):
    if kind and kind.lower().startswith("dark"):
        return "dark run — no hit finding"
    if rate is not None and rate < 0.5:
        return "low hit rate, check injector"
    return ""
