"""factory_boy factories for the models tests build on."""

from __future__ import annotations

import factory
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from otp.models import SmsDevice
from otp.services import RECOVERY_DEVICE_NAME, recovery_code_digest

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    last_login = factory.LazyFunction(timezone.now)
    last_login_device = "pytest-agent/1.0"
    password_changed_at = factory.LazyFunction(timezone.now)
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])


def user_with_every_factor(*, phone: str = "+34612345678", **fields: object) -> tuple[User, list[str]]:
    """A user with a verified TOTP device, a verified phone and ten recovery codes (returned in clear)."""
    user = UserFactory(**fields)
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True, tolerance=1)
    SmsDevice.objects.create(user=user, name="Phone", number=phone, confirmed=True)
    recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [f"abcdefghj{last}" for last in "kmnpqrstuv"]
    StaticToken.objects.bulk_create(
        StaticToken(device=recovery, token=recovery_code_digest(code)) for code in codes
    )
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now(), phone_verified_at=timezone.now())
    user.refresh_from_db()
    return user, codes
