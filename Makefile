# Release packaging. Everything is built under build/ and lands in dist/.
#
#   make install   pip-install the project into the active Python (PYTHON=...)
#   make dist      wheel and sdist, with .venv's Python when there is one
#   make deb       .deb with dh-python/pybuild       (Debian: see DEB_TOOLS)
#   make rpm       noarch .rpm with rpmbuild         (Debian: see RPM_TOOLS)
#   make packages  all four
#   make clean     remove build/ and dist/
#
# The version comes from src/mozdef_client/_version.py, through
# packaging/version.py; nothing here repeats it. docs/packaging.md explains.

PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# make dist builds with the project's .venv (made by ./dev) when no PYTHON is
# given, installing the build tools into it on first use: no system packages.
VENV_PYTHON = .venv/bin/python
ifeq ($(origin PYTHON),file)
DIST_PYTHON := $(if $(wildcard $(VENV_PYTHON)),$(VENV_PYTHON),$(PYTHON))
else
DIST_PYTHON := $(PYTHON)
endif
DIST_TOOLS = build 'setuptools>=77' wheel
PIP_FLAGS ?=
# The active environment's setuptools builds the wheel, so no network is
# needed; BUILD_FLAGS= (empty) asks build for an isolated environment instead.
BUILD_FLAGS ?= --no-isolation
# Extra rpmbuild options, e.g. --define 'python3_sitelib /usr/lib/python3.12/site-packages'
RPMBUILD_FLAGS ?=
# Debian's Python builds the .deb and runs rpmbuild's steps and the helpers.
SYSTEM_PYTHON ?= /usr/bin/python3

DEB_TOOLS = dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools python3-wheel
RPM_TOOLS = rpm python3-build python3-installer python3-setuptools python3-wheel
# pybuild runs "python3.X" from PATH: Debian's own must come first, not a
# pyenv or virtualenv one.
DEB_PATH = /usr/sbin:/usr/bin:/sbin:/bin:$(PATH)

VERSION := $(shell $(SYSTEM_PYTHON) packaging/version.py 2>/dev/null || $(PYTHON) packaging/version.py)
DISTRO_VERSION := $(shell $(SYSTEM_PYTHON) packaging/version.py deb 2>/dev/null || $(PYTHON) packaging/version.py deb)
# Newer setuptools name the sdist mozdef_client-..., older ones mozdef-client-...
SDIST = $(firstword $(wildcard dist/mozdef_client-$(VERSION).tar.gz dist/mozdef-client-$(VERSION).tar.gz))
DEB_TREE = build/deb/mozdef-client-$(VERSION)

# $(call need-command,COMMAND,DEBIAN-PACKAGE)
need-command = @command -v $(1) >/dev/null 2>&1 || { \
	echo "make: '$(1)' not found; install Debian's $(2) package: apt-get install $(2)" >&2; exit 1; }
# $(call need-module,PYTHON,MODULE,HOW-TO-INSTALL); -I keeps ./build/ from
# passing for the build module.
need-module = @$(1) -I -c 'import $(2)' >/dev/null 2>&1 || { \
	echo "make: $(1) cannot import $(2); $(3)" >&2; exit 1; }

.PHONY: help install dist deb rpm packages clean check-dist-tools check-deb-tools check-rpm-tools

help:
	@sed -n 's/^#   //p' Makefile

install:
	@$(PIP) --version >/dev/null 2>&1 || { \
		echo "make: no pip in $(PYTHON); use a virtualenv or apt-get install python3-pip" >&2; exit 1; }
	$(PIP) install $(PIP_FLAGS) .

check-dist-tools:
ifeq ($(DIST_PYTHON),$(VENV_PYTHON))
	@$(VENV_PYTHON) -I -c 'import build, wheel, setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' 2>/dev/null || { \
		echo "make: installing the build tools into .venv: $(DIST_TOOLS)"; \
		$(VENV_PYTHON) -m pip install -q --disable-pip-version-check $(DIST_TOOLS); }
else
	$(call need-module,$(DIST_PYTHON),build,run '$(DIST_PYTHON) -m pip install build' (Debian: apt-get install python3-build))
endif

dist: check-dist-tools
	$(DIST_PYTHON) -m build $(BUILD_FLAGS) --sdist --wheel --outdir dist .

check-deb-tools:
	$(call need-command,dpkg-buildpackage,dpkg-dev)
	@dpkg-checkbuilddeps debian/control || { \
		echo "make: install Debian's build tools: apt-get install $(DEB_TOOLS)" >&2; exit 1; }

# Built out of tree from the sdist (which also checks that the sdist is
# complete): $(DEB_TREE) gets debian/ and a debian/changelog written from
# _version.py, and the work tree stays clean.
deb: check-deb-tools dist
	rm -rf build/deb
	mkdir -p $(DEB_TREE)
	tar -xzf $(SDIST) --strip-components=1 -C $(DEB_TREE)
	cp -R debian $(DEB_TREE)/
	$(SYSTEM_PYTHON) packaging/old_setuptools.py $(DEB_TREE)
	$(SYSTEM_PYTHON) packaging/debian_changelog.py debian/control > $(DEB_TREE)/debian/changelog
	cd $(DEB_TREE) && env -u PYTHONPATH PATH=$(DEB_PATH) dpkg-buildpackage --build=binary --no-sign
	cp build/deb/python3-mozdef-client_$(DISTRO_VERSION)_all.deb dist/
	@echo "built dist/python3-mozdef-client_$(DISTRO_VERSION)_all.deb"

check-rpm-tools:
	$(call need-command,rpmbuild,rpm)
	$(call need-command,$(SYSTEM_PYTHON),python3)
	$(call need-module,$(SYSTEM_PYTHON),build,apt-get install $(RPM_TOOLS))
	$(call need-module,$(SYSTEM_PYTHON),installer,apt-get install $(RPM_TOOLS))
	$(call need-module,$(SYSTEM_PYTHON),setuptools,apt-get install $(RPM_TOOLS))
	$(call need-module,$(SYSTEM_PYTHON),wheel,apt-get install $(RPM_TOOLS))

# rpmbuild --nodeps: Debian's rpm has no database of installed build
# dependencies (they are Debian packages, checked above instead).
rpm: check-rpm-tools dist
	rm -rf build/rpm
	mkdir -p build/rpm/SOURCES
	cp $(SDIST) packaging/install_wheel.py packaging/old_setuptools.py build/rpm/SOURCES/
	env -u PYTHONPATH rpmbuild -bb --nodeps \
		--define '_topdir $(CURDIR)/build/rpm' \
		--define '__python3 $(SYSTEM_PYTHON)' \
		--define 'upstream_version $(VERSION)' \
		--define 'rpm_version $(DISTRO_VERSION)' \
		--define 'sdist $(notdir $(SDIST))' \
		$(RPMBUILD_FLAGS) packaging/mozdef-client.spec
	cp build/rpm/RPMS/noarch/python3-mozdef-client-$(DISTRO_VERSION)-1.noarch.rpm dist/
	@echo "built dist/python3-mozdef-client-$(DISTRO_VERSION)-1.noarch.rpm"

packages: dist deb rpm

clean:
	rm -rf build dist
