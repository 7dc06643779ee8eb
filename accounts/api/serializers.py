from rest_framework import serializers

from accounts.models import User


class TokenInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                help_text="A current TOTP code or a backup code; required when MFA is on.")
    device_name = serializers.CharField(max_length=255, required=False, allow_blank=True,
                                        help_text="Shown on the user's devices page; defaults to the User-Agent.")


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=512)


class TokenPairSerializer(serializers.Serializer):
    token_type = serializers.CharField(default="Bearer")
    access_token = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the access token stays valid.")
    refresh_token = serializers.CharField(help_text="Single use: each refresh returns a new one.")
    refresh_expires_in = serializers.IntegerField()
    session_id = serializers.UUIDField()


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "phone", "status", "email_verified", "phone_verified", "mfa_enabled",
                  "created_at", "last_login"]
        read_only_fields = fields


class AuthErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class AuthErrorSerializer(serializers.Serializer):
    """The JSON error body of core.api_errors."""

    error = AuthErrorDetailSerializer()
